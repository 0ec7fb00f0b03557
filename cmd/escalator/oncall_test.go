package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestOncallCommand(t *testing.T) {
	shipped := filepath.Join("..", "..", "policies")
	t.Setenv("ESCALATOR_POLICIES", shipped)
	// Monday 9 March 2026, 10:00 in Tokyo: week 10 of both rosters.
	const at = "2026-03-09T10:00:00+09:00"
	tests := []struct {
		name     string
		args     []string
		code     int
		want     []string
		wantJSON bool
	}{
		{"help", []string{"--help"}, 0, []string{"Usage: escalator oncall", `"rosters": [{`}, false},
		{"every roster", []string{"--at", at}, 0, []string{
			"db-primary (shared roster, ../../policies/roster-db-primary.yaml, Asia/Tokyo; used by database)",
			"  on call    kenji  layer business-hours  since Mon 09:00 JST, 1h ago  until Mon 18:00 JST, in 8h",
			"  covering   aiko   base",
			"  next       Mon 18:00 JST, in 8h    aiko  base",
			"web (shared roster, ../../policies/roster-web.yaml, Asia/Tokyo; used by web-business-hours)",
			"  on call    aiko, kenji  base  since Mon 09:00 JST, 1h ago  until Mon 16 Mar 09:00 JST, in 6d23h",
		}, false},
		{"one roster, New Year", []string{"--roster", "db-primary", "--at", "2027-01-01T12:00:00+09:00", "--next", "1"}, 0, []string{
			"  on call    yuki   override  since Mon 28 Dec 09:00 JST, 4d3h ago  until Mon 09:00 JST, in 2d21h",
			"  covering   kenji  layer business-hours",
			"  next       Mon 09:00 JST, in 2d21h  ren  layer business-hours",
		}, false},
		{"a policy's rosters, json", []string{"--policy", "database", "--at", at, "--format", "json"}, 0, []string{`"name": "db-primary"`}, true},
		{"no such roster", []string{"--roster", "ops", "--at", at}, 1, []string{"no roster ops (the rosters are db-primary, web)"}, false},
		{"a policy without roster", []string{"--policy", "payments"}, 1, []string{"policy payments uses no roster"}, false},
		{"bad --at", []string{"--at", "tomorrow"}, 2, []string{"--at must be an RFC 3339 time"}, false},
		{"bad format", []string{"--format", "yaml"}, 2, []string{"Usage: escalator oncall"}, false},
		{"no such directory", []string{"--policies", "no/such/dir"}, 1, []string{"no/such/dir: cannot read"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(t.Context(), append([]string{"oncall"}, tt.args...), &out, &errb, nil)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errb.String())
			}
			all := out.String() + errb.String()
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			if tt.wantJSON {
				var rep struct {
					Rosters []struct {
						Name   string   `json:"name"`
						People []string `json:"people"`
					} `json:"rosters"`
				}
				if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Rosters) != 1 || strings.Join(rep.Rosters[0].People, ",") != "kenji" {
					t.Errorf("json: %v %+v", err, rep)
				}
			}
		})
	}
}

// TestOncallFromWorker: without --policies, escalator oncall asks the
// worker, and says the same as from the files the worker loaded, in text
// and JSON; a roster or policy the worker does not have is a 404, exit 1.
func TestOncallFromWorker(t *testing.T) {
	shipped := filepath.Join("..", "..", "policies")
	w := startWorker(t, shipped)
	const at = "2026-03-09T10:00:00+09:00"
	for _, args := range [][]string{
		{"--at", at},
		{"--at", at, "--roster", "db-primary", "--next", "1"},
		{"--at", "2027-01-01T12:00:00+09:00", "--policy", "database", "--format", "json"},
		{"--at", at, "--next", "0", "--format", "json"},
	} {
		fromWorker := w.must(t, append([]string{"oncall"}, args...)...)
		fromFiles := w.must(t, append([]string{"oncall", "--policies", shipped}, args...)...)
		if fromWorker != fromFiles {
			t.Errorf("oncall %v from the worker:\n%s\nfrom the files:\n%s", args, fromWorker, fromFiles)
		}
	}
	wantIn(t, "oncall", w.must(t, "oncall", "--at", at, "--roster", "db-primary"),
		"  on call    kenji  layer business-hours  since Mon 09:00 JST, 1h ago  until Mon 18:00 JST, in 8h")
	// ESCALATOR_POLICIES reads the files, as before; --server wins over it.
	if r := cmd(t, w.env("ESCALATOR_POLICIES=no/such/dir"), "oncall"); r.code != 1 || !strings.Contains(r.stderr, "no/such/dir") {
		t.Errorf("oncall with ESCALATOR_POLICIES: %s", r)
	}
	if r := cmd(t, w.env("ESCALATOR_POLICIES=no/such/dir"), "oncall", "--server", w.url); r.code != 0 {
		t.Errorf("oncall --server with ESCALATOR_POLICIES: %s", r)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--roster", "ops"}, "escalator oncall: no roster ops (a shared roster's name, or a policy's for its own)\n"},
		{[]string{"--policy", "nope"}, "escalator oncall: no policy nope in force\n"},
	} {
		r := cmd(t, w.env(), append([]string{"oncall"}, tt.args...)...)
		if r.code != 1 || r.stderr != tt.want {
			t.Errorf("oncall %v: %s\nwant: %s", tt.args, r, tt.want)
		}
	}
}
