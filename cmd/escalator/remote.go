package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"

	"github.com/escalator-oss/escalator/internal/cli"
)

// remoteHelp is the part of every worker command's help about reaching the
// worker.
const remoteHelp = `
The worker is reached at --server (default ` + cli.DefaultServer + `, or
$ESCALATOR_SERVER), with the worker's --http-token as --token, or better
$ESCALATOR_TOKEN, or the content of the file $ESCALATOR_TOKEN_FILE (not
both variables). The token never appears in any output.
It exits 0, 1 when the worker cannot be reached or refuses (the reason on
stderr, one line), 2 on bad usage.
`

// remote is a command that talks to a worker's API: its flags (--server,
// --token, --format and the command's own), parsed with the environment,
// and its output.
type remote struct {
	*envFlags
	name           string // "escalator ls"
	usage          string
	stdout, stderr io.Writer
	getenv         func(string) string

	server, token, format string
	// formats are the --format values the command takes.
	formats []string
	// given are the flags given on the command line (after parse).
	given map[string]bool
	// fullUsage makes bad usage print the whole help (on stderr) and
	// --help leave out remoteHelp, as escalator oncall always did.
	fullUsage bool
}

// newRemote returns the flags of command name ("ls", "silence add") with
// --server, --token and --format; the command adds its own before parse.
func newRemote(name, usage string, stdout, stderr io.Writer, getenv func(string) string) *remote {
	r := &remote{envFlags: newEnvFlags(name, stderr), name: "escalator " + name, usage: usage, stdout: stdout, stderr: stderr,
		getenv: getenv, formats: []string{"text", "json"}}
	r.StringVar(&r.server, "server", cli.DefaultServer, "the worker's HTTP API")
	r.bind("server", "ESCALATOR_SERVER")
	r.StringVar(&r.token, "token", "", "the worker's --http-token [$ESCALATOR_TOKEN, $ESCALATOR_TOKEN_FILE]")
	r.StringVar(&r.format, "format", "text", "output format: text (for people) or json (the API's JSON, for scripts)")
	r.Usage = func() {}
	return r
}

// env reads a variable, from getenv or the process.
func (r *remote) env(name string) string {
	v, _ := lookup(r.getenv, name)
	return v
}

// parse parses args, flags and positional arguments in any order (a "--"
// makes the rest positional), then the token from the environment. It
// returns the positional arguments, or an exit code: 0 after --help, 2 for
// bad usage (said on stderr).
func (r *remote) parse(args []string) ([]string, int, bool) {
	var pos []string
	rest := args
	for {
		err := r.FlagSet.Parse(rest)
		if errors.Is(err, flag.ErrHelp) {
			r.help()
			return nil, 0, false
		}
		if err != nil {
			return nil, r.badUsage(""), false // the flag package said why
		}
		left := r.Args()
		consumed := rest[:len(rest)-len(left)]
		if len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			pos = append(pos, left...)
			break
		}
		if len(left) == 0 {
			break
		}
		pos = append(pos, left[0])
		rest = left[1:]
	}
	r.given = map[string]bool{}
	r.Visit(func(f *flag.Flag) { r.given[f.Name] = true })
	// Then the variables of the flags not given.
	if err := r.envFlags.parse(nil, r.getenv); err != nil {
		return nil, r.badUsage(err.Error()), false
	}
	if !contains(r.formats, r.format) {
		return nil, r.badUsage(fmt.Sprintf("--format must be %s, got %q", strings.Join(r.formats, " or "), r.format)), false
	}
	if !r.given["token"] {
		tok, file := r.env("ESCALATOR_TOKEN"), r.env("ESCALATOR_TOKEN_FILE")
		switch {
		case tok != "" && file != "":
			return nil, r.badUsage("ESCALATOR_TOKEN and ESCALATOR_TOKEN_FILE are both set: set one"), false
		case file != "":
			b, err := os.ReadFile(file)
			if err != nil {
				return nil, r.badUsage(fmt.Sprintf("ESCALATOR_TOKEN_FILE: %v", err)), false
			}
			if tok = strings.TrimSpace(string(b)); tok == "" {
				return nil, r.badUsage(fmt.Sprintf("ESCALATOR_TOKEN_FILE: %s is empty", file)), false
			}
		}
		r.token = tok
	}
	return pos, 0, true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// help writes the command's help and flags to stdout.
func (r *remote) help() {
	fmt.Fprint(r.stdout, r.usage)
	if !r.fullUsage {
		fmt.Fprint(r.stdout, remoteHelp)
		fmt.Fprintln(r.stdout, "\nFlags:")
	}
	r.defaults(r.stdout)
}

// badUsage says what is wrong (when why is not empty) and where the help
// is, on stderr, and returns 2.
func (r *remote) badUsage(why string) int {
	if why != "" {
		fmt.Fprintf(r.stderr, "%s: %s\n", r.name, why)
	}
	if r.fullUsage {
		fmt.Fprint(r.stderr, r.usage)
		r.defaults(r.stderr)
		return 2
	}
	fmt.Fprintf(r.stderr, "Run '%s --help' for usage.\n", r.name)
	return 2
}

// client returns the client of the worker, or the exit code of a bad
// --server.
func (r *remote) client() (*cli.Client, int, bool) {
	c, err := cli.New(r.server, r.token)
	if err != nil {
		return nil, r.badUsage(err.Error()), false
	}
	return c, 0, true
}

// printer returns the Printer of the command's stdout: colours on a
// terminal only, never under NO_COLOR.
func (r *remote) printer() cli.Printer {
	return cli.Printer{Out: r.stdout, Color: cli.Colorful(r.stdout, r.getenv)}
}

// fail writes err as the command's one line on stderr and returns 1.
func (r *remote) fail(err error) int {
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(r.stderr, "%s: interrupted\n", r.name)
		return 1
	}
	fmt.Fprintf(r.stderr, "%s: %v\n", r.name, err)
	return 1
}

// json writes the API's raw JSON to stdout, indented as the other
// commands' JSON is.
func (r *remote) json(raw []byte) int {
	var b strings.Builder
	if err := indentJSON(&b, raw); err != nil {
		return r.fail(fmt.Errorf("the worker's answer is not JSON: %w", err))
	}
	fmt.Fprint(r.stdout, b.String())
	return 0
}

func indentJSON(w *strings.Builder, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return err
	}
	w.Write(buf.Bytes())
	if n := buf.Len(); n == 0 || buf.Bytes()[n-1] != '\n' {
		w.WriteByte('\n')
	}
	return nil
}

// whoAmI is --by's default: the login name, else $USER.
func (r *remote) whoAmI() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return r.env("USER")
}
