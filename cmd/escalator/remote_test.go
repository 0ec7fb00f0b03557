package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/escalator-oss/escalator/internal/engine"
	"github.com/escalator-oss/escalator/internal/outcome"
)

// workerCommands are a call of every command that talks to the worker.
var workerCommands = [][]string{
	{"ls"}, {"show", "x"}, {"ack", "x"}, {"resolve", "x"}, {"escalate", "x"}, {"oncall"},
	{"silence", "add", "team=db", "--for", "1h"}, {"silence", "ls"}, {"silence", "rm", "x"}, {"tail"},
}

// TestReachingTheWorker: no worker there, no token, a wrong token, the token
// from a file — each said in one line on stderr with what to do, exit 1; the
// token appears nowhere (cmd checks every output).
func TestReachingTheWorker(t *testing.T) {
	w := startWorker(t, "")
	nobody := "http://" + closedPort(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("\n  "+testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongFile := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrongFile, []byte(testToken+"x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		args []string // before the command's own
		want string
	}{
		{"no worker", []string{"ESCALATOR_SERVER=" + nobody}, nil,
			"cannot reach the worker at " + nobody + " (connection refused): is it running? set --server or ESCALATOR_SERVER"},
		{"no worker, --server", nil, []string{"--server", nobody},
			"cannot reach the worker at " + nobody + " (connection refused)"},
		{"no token", []string{"ESCALATOR_TOKEN="}, nil,
			"the worker at " + w.url + " wants a token: set --token or ESCALATOR_TOKEN (or ESCALATOR_TOKEN_FILE)"},
		{"a wrong token", []string{"ESCALATOR_TOKEN=" + testToken + "-wrong"}, nil,
			"the worker at " + w.url + " refused the token: the worker wants its --http-token; check --token, ESCALATOR_TOKEN or ESCALATOR_TOKEN_FILE"},
		{"a wrong --token", nil, []string{"--token", "wrong" + testToken},
			"refused the token"},
		{"a wrong token file", []string{"ESCALATOR_TOKEN=", "ESCALATOR_TOKEN_FILE=" + wrongFile}, nil, "refused the token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range workerCommands {
				args := append(append([]string{}, c...), tt.args...)
				r := cmd(t, w.env(tt.env...), args...)
				name := "escalator " + c[0]
				if c[0] == "silence" {
					name += " " + c[1]
				}
				if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, name+": ") || !strings.Contains(r.stderr, tt.want) {
					t.Errorf("%v: %s\nwant on stderr: %s: %s", args, r, name, tt.want)
				}
				if strings.Count(r.stderr, "\n") != 1 {
					t.Errorf("%v: stderr is not one line:\n%s", args, r.stderr)
				}
			}
		})
	}
	// The token from a file, trimmed; and the flag wins over the variables.
	if r := cmd(t, w.env("ESCALATOR_TOKEN=", "ESCALATOR_TOKEN_FILE="+tokenFile), "ls"); r.code != 0 {
		t.Errorf("ESCALATOR_TOKEN_FILE: %s", r)
	}
	if r := cmd(t, w.env("ESCALATOR_TOKEN=wrong"), "ls", "--token", testToken); r.code != 0 {
		t.Errorf("--token over ESCALATOR_TOKEN: %s", r)
	}
	if r := cmd(t, w.env("ESCALATOR_TOKEN=", "ESCALATOR_SERVER="), "--help"); r.code != 0 {
		t.Errorf("--help: %s", r)
	}
	// The default server is escalator run's default address.
	if r := cmd(t, w.env("ESCALATOR_SERVER="), "ls"); !strings.Contains(r.stderr, "http://127.0.0.1:8080") && r.code != 0 {
		t.Errorf("no ESCALATOR_SERVER: %s", r)
	}
}

// TestBadUsage: a usage the command cannot take exits 2 and says why, before
// asking the worker; --help exits 0.
func TestBadUsage(t *testing.T) {
	// No worker at all: bad usage is found before any request.
	env := func(extra ...string) func(string) string {
		vars := map[string]string{"ESCALATOR_SERVER": "http://" + closedPort(t), "ESCALATOR_TOKEN": testToken}
		for _, kv := range extra {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
		return func(k string) string { return vars[k] }
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(testToken), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"ls", "--bogus"}, nil, "flag provided but not defined: -bogus"},
		{[]string{"ls", "--status", "open"}, nil, `--status must be active, acknowledged, ended or all, got "open"`},
		{[]string{"ls", "--all", "--status", "ended"}, nil, "give --all or --status, not both"},
		{[]string{"ls", "--limit", "1000"}, nil, "--limit must be 1 to 500"},
		{[]string{"ls", "extra"}, nil, `ls takes no argument, got "extra"`},
		{[]string{"ls", "--format", "yaml"}, nil, `--format must be text or json, got "yaml"`},
		{[]string{"ls"}, []string{"ESCALATOR_TOKEN_FILE=" + tokenFile}, "ESCALATOR_TOKEN and ESCALATOR_TOKEN_FILE are both set: set one"},
		{[]string{"ls"}, []string{"ESCALATOR_TOKEN=", "ESCALATOR_TOKEN_FILE=/no/such/file"}, "ESCALATOR_TOKEN_FILE: open /no/such/file"},
		{[]string{"ls", "--server", "ftp://example.org"}, nil, "--server must be an http:// or https:// URL"},
		{[]string{"show"}, nil, "name one escalation: escalator show REF"},
		{[]string{"show", "a", "b"}, nil, "name one escalation"},
		{[]string{"ack"}, nil, "name one escalation: escalator ack REF"},
		{[]string{"resolve", "--by"}, nil, "flag needs an argument: -by"},
		{[]string{"escalate", "a", "b"}, nil, "name one escalation: escalator escalate REF"},
		{[]string{"silence"}, nil, "Usage: escalator silence <add|ls|rm>"},
		{[]string{"silence", "mute"}, nil, `unknown command "mute"`},
		{[]string{"silence", "add", "--for", "1h"}, nil, "say which alerts: at least one matcher"},
		{[]string{"silence", "add", "team=db"}, nil, "say how long: --for 2h or --until TIME"},
		{[]string{"silence", "add", "team=db", "--for", "1h", "--until", "2030-01-01T00:00:00Z"}, nil, "give --for or --until, not both"},
		{[]string{"silence", "add", "team=db", "--until", "tomorrow"}, nil, `--until must be an RFC 3339 time such as 2026-11-30T02:00:00+09:00, got "tomorrow"`},
		{[]string{"silence", "add", "team=db", "--for", "1h", "--starts", "soon"}, nil, "--starts must be an RFC 3339 time"},
		{[]string{"silence", "add", "--match", "team", "--for", "1h"}, nil, `invalid value "team" for flag -match: want label=value`},
		{[]string{"silence", "add", "nolabel", "--for", "1h"}, nil, `a matcher is label=value or label=~regex, got "nolabel"`},
		{[]string{"silence", "add", "team=db", "--for", "-1h"}, nil, "--for must be positive"},
		{[]string{"silence", "ls", "x"}, nil, `silence ls takes no argument`},
		{[]string{"silence", "rm"}, nil, "name the silences to expire"},
		{[]string{"tail", "x"}, nil, `tail takes no argument, got "x"`},
		{[]string{"tail", "--after", "last"}, nil, "--after must be an event id"},
		{[]string{"oncall", "--policies", "../../policies", "--server", "http://x"}, nil, "give --server (the worker's rosters) or --policies (the files'), not both"},
		{[]string{"oncall", "--next", "-1"}, nil, "Usage: escalator oncall"},
	}
	for _, tt := range tests {
		r := cmd(t, env(tt.env...), tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
			t.Errorf("%v: %s\nwant exit 2 and on stderr: %s", tt.args, r, tt.want)
		}
	}
	for _, c := range append(workerCommands, []string{"silence", "--help"}) {
		args := append(append([]string{}, c[:1]...), "--help")
		if c[0] == "silence" {
			args = append(append([]string{}, c[:2]...), "--help")
		}
		r := cmd(t, env(), args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage: escalator "+c[0]) || r.stderr != "" {
			t.Errorf("%v: %s", args, r)
		}
	}
}

// TestSharedShortCode: two escalations with the same short code. Acting on
// the code is refused with both ids, in one line; each id works.
func TestSharedShortCode(t *testing.T) {
	// An escalation's id is its group's token and the stream sequence of
	// the alert that started it (engine: fire.go); its short code is the id's
	// hash modulo 10000. The first two alerts of a new worker are sequences
	// 1 and 2: find a second alert whose escalation shares the first one's
	// code.
	id := func(alertID string, seq int) string {
		h := sha256.New()
		for _, p := range []string{"db", "id=" + alertID} {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
		return fmt.Sprintf("%s-%d", hex.EncodeToString(h.Sum(nil)[:12]), seq)
	}
	first := id("db-a", 1)
	second := ""
	for i := 0; second == ""; i++ {
		if c := id(fmt.Sprintf("db-b-%d", i), 2); engine.ShortCode(c) == engine.ShortCode(first) {
			second = fmt.Sprintf("db-b-%d", i)
		}
	}
	w := startWorker(t, "")
	a := w.fire(t, "db-a", "db", outcome.Dispatched)
	b := w.fire(t, second, "db", outcome.Dispatched)
	if a.EscalationID != first || b.EscalationID != id(second, 2) || a.ShortCode != b.ShortCode {
		t.Fatalf("escalations %s (%s) and %s (%s), want %s and %s sharing a code: has the engine's id changed?",
			a.EscalationID, a.ShortCode, b.EscalationID, b.ShortCode, first, id(second, 2))
	}
	want := "short code " + a.ShortCode + " (2 escalations share it): name one by its id: " + b.EscalationID + " or " + a.EscalationID + "\n"
	for _, c := range []string{"show", "ack", "resolve", "escalate"} {
		r := cmd(t, w.env(), c, a.ShortCode)
		if r.code != 1 || r.stderr != "escalator "+c+": "+want {
			t.Errorf("%s %s: %s\nwant: %s", c, a.ShortCode, r, want)
		}
	}
	if out := w.must(t, "ack", b.EscalationID); !strings.Contains(out, "Acknowledged "+b.ShortCode+" ("+second) {
		t.Errorf("ack by id: %s", out)
	}
}
