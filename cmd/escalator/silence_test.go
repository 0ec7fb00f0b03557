package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/silence"
)

// TestSilenceCommands: silence add quietens a running escalation at once,
// ls shows it, rm expires it and the escalation pages again; the worker's
// refusals name the flag.
func TestSilenceCommands(t *testing.T) {
	w := startWorker(t, "")
	db := w.fire(t, "db-primary-down", "db", outcome.Dispatched)

	out := w.must(t, "silence", "add", "--match", "team=db", "--match-regex", "team=d[b]", "--for", "2h",
		"--comment", "CHG-1234 primary migration", "--by", "aiko")
	wantIn(t, "silence add", out, "made by aiko: team=db team=~d[b]", "status     active", "ends       ", "(in 2h)",
		"comment    CHG-1234 primary migration", "quietened  1 running escalation")
	id := strings.Fields(out)[1]
	if o := w.await(t, func(o outcome.Outcome) bool { return o.Event == outcome.Silenced }); o.Silence != id || o.EscalationID != db.EscalationID {
		t.Errorf("silenced %+v, want by silence %s", o, id)
	}
	wantIn(t, "ls", w.must(t, "ls"), "silenced", "quiet, ends in 2h (silence "+id+")")

	// A pending one, made with positional matchers and times; JSON out.
	starts := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	var made silence.View
	out = w.must(t, "silence", "add", "team=web", "severity=~crit.*", "--starts", starts.Format(time.RFC3339),
		"--until", starts.Add(time.Hour).Format(time.RFC3339), "--format", "json")
	if err := json.Unmarshal([]byte(out), &made); err != nil || made.Status != silence.Pending || made.Matchers["team"] != "web" ||
		made.MatchersRegex["severity"] != "crit.*" || !made.StartsAt.Equal(starts) || made.By != loginName(t) {
		t.Errorf("silence add --format json: %v %s", err, out)
	}

	out = w.must(t, "silence", "ls")
	wantIn(t, "silence ls", out, "ID", "STATUS", "MATCHERS", id, "active", "team=db team=~d[b]", "in 2h", "aiko",
		"CHG-1234 primary migration", made.ID, "pending", "team=web severity=~crit.*", "in 1h")
	if strings.Index(out, made.ID) > strings.Index(out, id) {
		t.Errorf("silence ls is not newest first:\n%s", out)
	}

	out = w.must(t, "silence", "rm", id)
	wantIn(t, "silence rm", out, "Silence "+id+" (team=db team=~d[b]) expired; 1 escalation woken")
	w.await(t, func(o outcome.Outcome) bool {
		return o.Event == outcome.Dispatched && o.EscalationID == db.EscalationID
	})
	if out := w.must(t, "silence", "ls"); strings.Contains(out, id) || !strings.Contains(out, made.ID) {
		t.Errorf("silence ls after rm:\n%s", out)
	}
	wantIn(t, "silence ls --all", w.must(t, "silence", "ls", "--all"), id, "expired", made.ID)
	var page struct {
		Silences []silence.View `json:"silences"`
	}
	if err := json.Unmarshal([]byte(w.must(t, "silence", "ls", "--format", "json")), &page); err != nil || len(page.Silences) != 1 {
		t.Errorf("silence ls --format json: %v %+v", err, page)
	}
	if err := json.Unmarshal([]byte(w.must(t, "silence", "ls", "--all", "--format", "json")), &page); err != nil || len(page.Silences) != 2 {
		t.Errorf("silence ls --all --format json: %v %+v", err, page)
	}
	w.must(t, "silence", "rm", made.ID)
	if out := w.must(t, "silence", "ls"); !strings.Contains(out, "No pending or active silences (--all shows the expired ones).") {
		t.Errorf("silence ls with none left:\n%s", out)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"silence", "rm", "nope"}, "escalator silence rm: no silence nope; escalator silence ls --all lists them\n"},
		{[]string{"silence", "add", "team=db", "--for", "1000h"}, "escalator silence add: --until/--for: a silence lasts at most 168h0m0s (--max-silence)"},
		{[]string{"silence", "add", "team=db", "--until", "2020-01-01T00:00:00Z"}, "escalator silence add: --until/--for: must be after the start (--starts, default now)"},
		{[]string{"silence", "add", "team=", "--for", "1h"}, "escalator silence add: --match team: must not be empty"},
		{[]string{"silence", "add", "--match-regex", "service=(", "--for", "1h"}, "escalator silence add: --match-regex service: regular expression does not compile"},
	} {
		r := cmd(t, w.env(), tt.args...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, tt.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: %s\nwant: %s", tt.args, r, tt.want)
		}
	}
}
