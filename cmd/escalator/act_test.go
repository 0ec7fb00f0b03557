package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os/user"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/escalator-oss/escalator/internal/engine"
	"github.com/escalator-oss/escalator/internal/outcome"
)

// TestEscalationCommands: ls, show, ack, escalate and resolve against a
// real worker, in text and JSON, and the refusals a person meets (an
// unknown ref, acting twice, acting on an ended escalation).
func TestEscalationCommands(t *testing.T) {
	w := startWorker(t, "")
	db := w.fire(t, "db-primary-down", "db", outcome.Dispatched)
	web := w.fire(t, "web-5xx", "web", outcome.Dispatched)

	// ls: the two active ones, newest first, with their codes.
	out := w.must(t, "ls")
	wantIn(t, "ls", out, "CODE", "STATUS", "LAST CALLED", db.ShortCode, web.ShortCode, db.EscalationID, "db-primary-down",
		"web-5xx", "active", "next in ", "aiko", "mira")
	if strings.Index(out, "web-5xx") > strings.Index(out, "db-primary-down") {
		t.Errorf("ls is not newest first:\n%s", out)
	}
	if rows := strings.Split(strings.TrimSpace(out), "\n"); len(rows) != 3 {
		t.Errorf("ls: %d lines, want a header and 2 rows:\n%s", len(rows), out)
	}
	// Columns are aligned: every row's ID starts where the header's does.
	rows := strings.Split(strings.TrimSpace(out), "\n")
	col := strings.Index(rows[0], "ID")
	for _, row := range rows[1:] {
		if len(row) < col || !strings.HasSuffix(row[:col], "  ") || !regexp.MustCompile(`^[0-9a-f]{24}-\d+$`).MatchString(row[col:]) {
			t.Errorf("the ID column is not aligned at %d:\n%s", col, out)
		}
	}
	if out := w.must(t, "ls", "--policy", "web"); strings.Contains(out, "db-primary-down") || !strings.Contains(out, "web-5xx") {
		t.Errorf("ls --policy web:\n%s", out)
	}

	// --format json is the API's answer, unchanged.
	var got, api any
	if err := json.Unmarshal([]byte(w.must(t, "ls", "--format", "json")), &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(apiGet(t, w.url+"/v1/escalations"), &api); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, api) {
		t.Errorf("ls --format json\n%v\nis not the API's\n%v", got, api)
	}

	// show, by short code, by alert id, by id.
	out = w.must(t, "show", db.ShortCode)
	wantIn(t, "show", out, "Escalation "+db.ShortCode+" ("+db.EscalationID+")", "policy", "db", "alerts", "db-primary-down",
		"Timeline from", "+0s", "started", "policy db; db-primary-down is down",
		"dispatched", "step 1 via iotcall db-first: called aiko +818012345678", "last called")
	for _, ref := range []string{"db-primary-down", db.EscalationID} {
		var d engine.Detail
		if err := json.Unmarshal([]byte(w.must(t, "show", ref, "--format", "json")), &d); err != nil || d.ID != db.EscalationID ||
			len(d.Timeline) < 2 {
			t.Errorf("show %s --format json: %v %+v", ref, err, d)
		}
	}

	// ack with a comment; the outcome says who, how and why.
	out = w.must(t, "ack", db.ShortCode, "--by", "aiko", "--comment", "looking at it")
	wantIn(t, "ack", out, "Acknowledged "+db.ShortCode+" (db-primary-down, policy db) by aiko.", "Its further steps stop.",
		"Now acknowledged: by aiko")
	o := w.await(t, func(o outcome.Outcome) bool { return o.Event == outcome.Acknowledged })
	if o.By != "aiko" || o.Via != "api" || o.Comment != "looking at it" || o.EscalationID != db.EscalationID {
		t.Errorf("acknowledged %+v", o)
	}
	r := cmd(t, w.env(), "ack", db.ShortCode)
	if r.code != 1 || !strings.Contains(r.stderr, "escalator ack: escalation "+db.EscalationID+" is already acknowledged, by aiko") ||
		strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stdout != "" {
		t.Errorf("a second ack: %s", r)
	}
	if out := w.must(t, "ls", "--status", "acknowledged"); !strings.Contains(out, "by aiko") || strings.Contains(out, "web-5xx") {
		t.Errorf("ls --status acknowledged:\n%s", out)
	}

	// escalate: the next step runs now; --by defaults to the login name.
	me := loginName(t)
	out = w.must(t, "escalate", "web-5xx")
	wantIn(t, "escalate", out, "Escalated "+web.ShortCode+" (web-5xx, policy web) by "+me, "It had no step left: it is exhausted.")
	if o := w.await(t, func(o outcome.Outcome) bool { return o.Event == outcome.Escalated }); o.By != me || o.Via != "api" {
		t.Errorf("escalated %+v, want by %s", o, me)
	}
	out = w.must(t, "escalate", db.ShortCode, "--comment", "need the DBA")
	wantIn(t, "escalate", out, "Step 2 runs now.")
	w.await(t, func(o outcome.Outcome) bool {
		return o.Event == outcome.Dispatched && o.EscalationID == db.EscalationID && o.Step == 1
	})

	// resolve, then every action on it is refused with its status.
	out = w.must(t, "resolve", db.EscalationID, "--format", "json")
	var s engine.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil || s.Status != "resolved" {
		t.Errorf("resolve --format json: %v %s", err, out)
	}
	for _, act := range []string{"ack", "resolve", "escalate"} {
		r := cmd(t, w.env(), act, "db-primary-down")
		if r.code != 1 || !strings.Contains(r.stderr, "escalator "+act+": escalation "+db.EscalationID+" has ended: resolved") {
			t.Errorf("%s on a resolved escalation: %s", act, r)
		}
	}
	if out := w.must(t, "ls"); !strings.Contains(out, "No active escalations.") {
		t.Errorf("ls after both ended:\n%s", out)
	}
	out = w.must(t, "ls", "--all")
	wantIn(t, "ls --all", out, "resolved", "exhausted", "db-primary-down", "web-5xx")
	if out := w.must(t, "ls", "--status", "ended", "--limit", "1"); strings.Count(strings.TrimSpace(out), "\n") != 1 {
		t.Errorf("ls --limit 1:\n%s", out)
	}
	r = cmd(t, w.env(), "ls", "--status", "ended", "--limit", "1")
	wantIn(t, "ls --limit 1's stderr", r.stderr, "More, older ones: escalator ls --status ended --limit 1 --cursor ")

	// An unknown ref: 404, said in one line with what to do.
	for _, args := range [][]string{{"show", "no-such-alert"}, {"ack", "no-such-alert"}, {"resolve", "0000"}} {
		r := cmd(t, w.env(), args...)
		if r.code != 1 || !strings.Contains(r.stderr, "no escalation "+args[1]+" (an id, a short code or an alert id); escalator ls --all lists them") {
			t.Errorf("%v: %s", args, r)
		}
	}
}

// apiGet reads a path of the worker's API directly.
func apiGet(t *testing.T, url string) []byte {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b
}

func loginName(t *testing.T) string {
	u, err := user.Current()
	if err != nil || u.Username == "" {
		t.Skip("no login name here")
	}
	return u.Username
}
