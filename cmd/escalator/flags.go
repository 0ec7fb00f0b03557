package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// envFlags is a flag set whose every flag also reads an environment variable;
// a flag given on the command line wins over the variable.
type envFlags struct {
	*flag.FlagSet
	env map[string]string // flag name → variable
}

func newEnvFlags(name string, out io.Writer) *envFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return &envFlags{FlagSet: fs, env: map[string]string{}}
}

// bind records the environment variable of a defined flag.
func (f *envFlags) bind(flagName, envName string) {
	if f.Lookup(flagName) == nil {
		panic("bind: no flag " + flagName)
	}
	f.env[flagName] = envName
}

// parse parses args, then fills every flag not given from its variable.
func (f *envFlags) parse(args []string, getenv func(string) string) error {
	if err := f.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	names := make([]string, 0, len(f.env))
	for n := range f.env {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if given[n] {
			continue
		}
		// LookupEnv semantics: a variable set to "" still counts (so
		// ESCALATOR_NATS_LISTEN= turns the listener off).
		if v, ok := lookup(getenv, f.env[n]); ok {
			if err := f.Set(n, v); err != nil {
				return fmt.Errorf("%s=%q: %v", f.env[n], v, err)
			}
		}
	}
	return nil
}

func lookup(getenv func(string) string, name string) (string, bool) {
	if getenv != nil {
		v := getenv(name)
		return v, v != ""
	}
	return os.LookupEnv(name)
}

// defaults prints the flags with their variables, for --help.
func (f *envFlags) defaults(w io.Writer) {
	f.VisitAll(func(fl *flag.Flag) {
		name, usage := flag.UnquoteUsage(fl)
		line := "  --" + fl.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintln(w, line)
		fmt.Fprintf(w, "        %s", strings.ReplaceAll(usage, "\n", "\n        "))
		if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" {
			fmt.Fprintf(w, " (default %q)", fl.DefValue)
		}
		if e := f.env[fl.Name]; e != "" {
			fmt.Fprintf(w, " [$%s]", e)
		}
		fmt.Fprintln(w)
	})
}
