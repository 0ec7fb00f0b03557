package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/outcome"
)

// fuzzFile is the file name the fuzzed policies are parsed as.
const fuzzFile = "fuzz.yaml"

// fuzzTimes are the moments Plan is run at: ordinary days, and one inside
// the seed policies' holiday overrides.
var fuzzTimes = []time.Time{
	time.Date(2026, 3, 8, 13, 30, 0, 0, time.UTC),
	time.Date(2026, 3, 25, 12, 0, 0, 0, time.UTC),
	time.Date(2026, 12, 30, 0, 0, 0, 0, time.UTC),
}

// FuzzPolicy feeds arbitrary bytes to the policy loader (ParseFileWith, then
// NewSet as Load does). It must never panic; every problem must be located
// as "fuzz.yaml:<line>:..." (only a file with no policy at all has no line);
// an accepted policy must survive the engine's JSON snapshot unchanged,
// parse the same way twice, match alerts, answer the same about its times
// (active_time, maintenance) after the snapshot, and Plan must run it from
// start to its end with every step calling someone it defines, and re-page
// it after its ack_timeout. An accepted heartbeat monitor must be valid and
// survive JSON. The seed corpus is in testdata/fuzz/FuzzPolicy.
func FuzzPolicy(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := ParseFileWith(testOptions, fuzzFile, data)
		if err == nil {
			var set *Set
			set, err = NewSet(pf.Policies, pf.Heartbeats...)
			if err == nil {
				checkAccepted(t, data, set)
				return
			}
		}
		var probs Problems
		if !errors.As(err, &probs) || len(probs) == 0 {
			t.Fatalf("rejection is not Problems: %T %v", err, err)
		}
		for _, p := range probs {
			if p.File != fuzzFile || p.Msg == "" {
				t.Fatalf("problem without file or message: %+v", p)
			}
			if p.Line <= 0 && p.Msg != "no policy, heartbeat, people or roster in file" {
				t.Fatalf("problem without a line: %q", p.String())
			}
			if want := fmt.Sprintf("%s:%d", fuzzFile, p.Line); p.Line > 0 && !strings.HasPrefix(p.String(), want) {
				t.Fatalf("problem %q does not start with %q", p.String(), want)
			}
		}
	})
}

func checkAccepted(t *testing.T, data []byte, set *Set) {
	t.Helper()
	again, err := ParseWith(testOptions, fuzzFile, data)
	if err != nil || len(again) != len(set.Policies) {
		t.Fatalf("second parse differs: %d policies, %v", len(again), err)
	}
	for _, p := range set.Policies {
		if p.Name == "" || len(p.Steps) == 0 || p.Repeat < 0 {
			t.Fatalf("accepted policy %+v", p)
		}
		for i, s := range p.Steps {
			if len(s.Via) == 0 || s.Wait < MinWait {
				t.Fatalf("accepted step %d: %+v", i, s)
			}
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("snapshot %s: %v", p.Name, err)
		}
		var q Policy
		if err := json.Unmarshal(b, &q); err != nil {
			t.Fatalf("restore snapshot %s: %v\n%s", p.Name, err, b)
		}
		b2, err := json.Marshal(&q)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("snapshot round trip changed %s (%v):\n%s\n%s", p.Name, err, b, b2)
		}
		p2, _ := (&Set{Policies: again}).Get(p.Name)
		if b3, _ := json.Marshal(p2); !bytes.Equal(b, b3) {
			t.Fatalf("second parse of %s differs:\n%s\n%s", p.Name, b, b3)
		}
		ev := alert.Event{ID: "fuzz", Status: alert.Firing, Severity: "critical", Labels: p.Match.Labels}
		if p.Match.Matches(ev) != q.Match.Matches(ev) {
			t.Fatalf("snapshot of %s matches differently", p.Name)
		}
		set.Match(ev)
		set.Explain(ev)
		set.Strict(map[string]bool{"iotcall": true})
		for _, now := range fuzzTimes {
			for _, r := range rostersOf(p) {
				oc := r.OnCallAt(now, 3)
				if !oc.Until.IsZero() && !oc.Until.After(now) || !oc.Since.IsZero() && oc.Since.After(now) {
					t.Fatalf("%s: on call at %s from %s until %s", p.Name, now, oc.Since, oc.Until)
				}
			}
			runPlan(t, p, now)
			runPlan(t, &q, now)
			checkTimes(t, set, p, &q, ev, now)
			if p.AckTimeout > 0 {
				runRepage(t, p, now)
			}
		}
	}
	for _, h := range set.Heartbeats {
		if !namePattern.MatchString(h.Name) || h.Every < MinHeartbeatEvery || h.File != fuzzFile {
			t.Fatalf("accepted heartbeat %+v", h)
		}
		if _, ok := h.Labels[HeartbeatLabel]; ok {
			t.Fatalf("accepted heartbeat %s sets the label %s", h.Name, HeartbeatLabel)
		}
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatalf("heartbeat %s: %v", h.Name, err)
		}
		var g Heartbeat
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatalf("heartbeat %s: %v", h.Name, err)
		}
		if b2, _ := json.Marshal(&g); !bytes.Equal(b, b2) {
			t.Fatalf("heartbeat round trip changed %s:\n%s\n%s", h.Name, b, b2)
		}
	}
}

// checkTimes asks p and its snapshot q about their times at now: they must
// agree, a maintenance window must end after now, and MatchAt must agree
// with ExplainAt.
func checkTimes(t *testing.T, set *Set, p, q *Policy, ev alert.Event, now time.Time) {
	t.Helper()
	if p.ActiveAt(now) != q.ActiveAt(now) {
		t.Fatalf("snapshot of %s is active differently at %s", p.Name, now)
	}
	end, which, ok := p.MaintenanceAt(now)
	end2, which2, ok2 := q.MaintenanceAt(now)
	if ok != ok2 || which != which2 || !end.Equal(end2) {
		t.Fatalf("snapshot of %s: maintenance at %s differs: %s %q %v, %s %q %v", p.Name, now, end, which, ok, end2, which2, ok2)
	}
	if ok && (!end.After(now) || which == "") {
		t.Fatalf("%s: maintenance at %s ends %s (%q)", p.Name, now, end, which)
	}
	m, matched := set.MatchAt(ev, now)
	vs := set.ExplainAt(ev, now)
	if last := vs[len(vs)-1]; matched != last.Matched || matched && last.Policy != m.Name {
		t.Fatalf("MatchAt %v %v, ExplainAt ends with %+v", m, matched, last)
	}
}

// runRepage starts p at now, acknowledges it, and re-pages it at its
// ack_timeout: from step 1 of the first run, "unacknowledged" first.
func runRepage(t *testing.T, p *Policy, now time.Time) {
	t.Helper()
	d := Plan(p, State{}, Input{Kind: Start}, now)
	if d.State.Status != Active {
		return
	}
	acked := Plan(p, d.State, Input{Kind: Ack, By: "fuzz"}, now.Add(time.Second))
	if want := now.Add(time.Second + p.AckTimeout); acked.State.Status != Acknowledged || !acked.NextAt.Equal(want) {
		t.Fatalf("%s: ack %+v, want a re-page at %s", p.Name, acked, want)
	}
	re := Plan(p, acked.State, Input{Kind: Timer, At: acked.NextAt}, acked.NextAt)
	if len(re.Events) == 0 || re.Events[0] != outcome.Unacknowledged || !re.State.StartedAt.Equal(now) ||
		re.State.Status == Active && (re.Run == nil || re.Run.Loop != 0 || !re.NextAt.After(acked.NextAt)) {
		t.Fatalf("%s: re-page %+v", p.Name, re)
	}
}

// runPlan runs p from Start through its timers until it is finished (or a
// bound far past its steps and repeats), checking each decision.
func runPlan(t *testing.T, p *Policy, now time.Time) {
	t.Helper()
	var st State
	in := Input{Kind: Start}
	for i := 0; i < 64; i++ {
		d := Plan(p, st, in, now)
		if d.Run != nil {
			if len(d.Run.People) == 0 || d.Run.Step < 0 || d.Run.Step >= len(p.Steps) || len(d.Run.Via) == 0 {
				t.Fatalf("%s: run %+v", p.Name, d.Run)
			}
			for _, who := range d.Run.People {
				if !reflect.DeepEqual(p.People[who.Name], who) {
					t.Fatalf("%s: calls %+v, not defined in the policy", p.Name, who)
				}
			}
		}
		if len(d.Skipped) > len(p.Steps) {
			t.Fatalf("%s: one decision skipped %d steps of %d", p.Name, len(d.Skipped), len(p.Steps))
		}
		if d.State.Finished() {
			if !d.NextAt.IsZero() {
				t.Fatalf("%s: finished with a wake-up at %s", p.Name, d.NextAt)
			}
			return
		}
		if d.State.Status != Active || !d.NextAt.After(now) {
			t.Fatalf("%s: decision %+v at %s", p.Name, d, now)
		}
		st, now = d.State, d.NextAt
		in = Input{Kind: Timer, At: d.NextAt}
	}
}

// rostersOf returns the policy's own roster and the shared ones it uses.
func rostersOf(p *Policy) []*Roster {
	var out []*Roster
	if p.Roster != nil {
		out = append(out, p.Roster)
	}
	for _, name := range sortedKeys(p.Rosters) {
		out = append(out, p.Rosters[name])
	}
	return out
}
