package policy

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/provider"
)

func loadTeam(t *testing.T) *Policy {
	t.Helper()
	set, err := LoadWith(testOptions, "testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := set.Get("team")
	return p
}

func names(ps []provider.Person) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

// step is what one Plan call is expected to do.
type step struct {
	in      Input
	after   time.Duration // now = t0 + after
	status  Status
	run     []string // names called, nil: no run
	runStep int
	loop    int
	skipped int
	events  []string
	next    time.Duration // NextAt - t0; -1: zero
}

func TestPlan(t *testing.T) {
	team := loadTeam(t)
	// The roster's people are gone: oncall and roster steps have nobody.
	empty := loadTeam(t)
	empty.Roster = &Roster{Rotation: Rotation{People: []string{}, Handoff: HandoffDaily, Start: empty.Roster.Start}}
	only := &Policy{Name: "only", People: team.People, Roster: empty.Roster,
		Steps: []Step{{Notify: Notify{Kind: NotifyOnCall}, Strategy: provider.Single, Wait: time.Minute}}}
	repage := loadTeam(t)
	repage.AckTimeout = 2 * time.Hour
	t0 := mustTime(t, "2026-03-08T13:30:00Z") // bob is on call (after the DST hand-off)
	holiday := mustTime(t, "2026-03-25T12:00:00Z")
	timer := func(d time.Duration) Input { return Input{Kind: Timer, At: t0.Add(d)} }
	start := Input{Kind: Start}

	tests := []struct {
		name   string
		p      *Policy
		t0     time.Time
		script []step
	}{
		{"single, rotation and broadcast, repeat, then exhausted", team, t0, []step{
			{in: start, status: Active, run: []string{"bob"}, events: []string{outcome.Started}, next: 5 * time.Minute},
			{in: timer(5 * time.Minute), after: 5 * time.Minute, status: Active, runStep: 1, run: []string{"bob", "carol", "alice"}, next: 15 * time.Minute},
			{in: timer(15 * time.Minute), after: 15 * time.Minute, status: Active, runStep: 2, run: []string{"alice", "bob"}, next: 16 * time.Minute},
			{in: timer(16 * time.Minute), after: 16 * time.Minute, status: Active, runStep: 0, loop: 1, run: []string{"bob"}, next: 21 * time.Minute},
			{in: timer(21 * time.Minute), after: 21 * time.Minute, status: Active, runStep: 1, loop: 1, run: []string{"bob", "carol", "alice"}, next: 31 * time.Minute},
			{in: timer(31 * time.Minute), after: 31 * time.Minute, status: Active, runStep: 2, loop: 1, run: []string{"alice", "bob"}, next: 32 * time.Minute},
			{in: timer(32 * time.Minute), after: 32 * time.Minute, status: Exhausted, runStep: 2, loop: 1, events: []string{outcome.Exhausted}, next: -1},
			{in: timer(32 * time.Minute), after: 40 * time.Minute, status: Exhausted, runStep: 2, loop: 1, next: -1},
		}},
		{"early, stale and duplicate timers are no-ops", team, t0, []step{
			{in: start, status: Active, run: []string{"bob"}, events: []string{outcome.Started}, next: 5 * time.Minute},
			{in: start, after: time.Second, status: Active, next: 5 * time.Minute},
			{in: timer(5 * time.Minute), after: 4 * time.Minute, status: Active, next: 5 * time.Minute},
			{in: timer(5 * time.Minute), after: 5 * time.Minute, status: Active, runStep: 1, run: []string{"bob", "carol", "alice"}, next: 15 * time.Minute},
			{in: timer(5 * time.Minute), after: 15 * time.Minute, status: Active, runStep: 1, next: 15 * time.Minute},
		}},
		{"ack mid-step", team, t0, []step{
			{in: start, status: Active, run: []string{"bob"}, events: []string{outcome.Started}, next: 5 * time.Minute},
			{in: Input{Kind: Ack, By: "bob"}, after: 2 * time.Minute, status: Acknowledged, events: []string{outcome.Acknowledged}, next: -1},
			{in: timer(5 * time.Minute), after: 5 * time.Minute, status: Acknowledged, next: -1},
			{in: Input{Kind: Resolve}, after: 6 * time.Minute, status: Resolved, events: []string{outcome.Resolved}, next: -1},
			{in: Input{Kind: Resolve}, after: 7 * time.Minute, status: Resolved, next: -1},
		}},
		{"ack_timeout: acknowledged, re-paged from step 1, acknowledged again, resolved", repage, t0, []step{
			{in: start, status: Active, run: []string{"bob"}, events: []string{outcome.Started}, next: 5 * time.Minute},
			{in: timer(5 * time.Minute), after: 5 * time.Minute, status: Active, runStep: 1, run: []string{"bob", "carol", "alice"}, next: 15 * time.Minute},
			{in: Input{Kind: Ack, By: "bob"}, after: 7 * time.Minute, status: Acknowledged, runStep: 1, events: []string{outcome.Acknowledged}, next: 2*time.Hour + 7*time.Minute},
			{in: Input{Kind: Ack, By: "carol"}, after: 8 * time.Minute, status: Acknowledged, runStep: 1, next: 2*time.Hour + 7*time.Minute},
			{in: timer(15 * time.Minute), after: 15 * time.Minute, status: Acknowledged, runStep: 1, next: 2*time.Hour + 7*time.Minute},
			{in: timer(2*time.Hour + 7*time.Minute), after: 2 * time.Hour, status: Acknowledged, runStep: 1, next: 2*time.Hour + 7*time.Minute},
			{in: timer(2*time.Hour + 7*time.Minute), after: 2*time.Hour + 7*time.Minute, status: Active, run: []string{"bob"},
				events: []string{outcome.Unacknowledged}, next: 2*time.Hour + 12*time.Minute},
			{in: timer(2*time.Hour + 7*time.Minute), after: 2*time.Hour + 8*time.Minute, status: Active, next: 2*time.Hour + 12*time.Minute},
			{in: timer(2*time.Hour + 12*time.Minute), after: 2*time.Hour + 12*time.Minute, status: Active, runStep: 1, run: []string{"bob", "carol", "alice"}, next: 2*time.Hour + 22*time.Minute},
			{in: Input{Kind: Ack, By: "alice"}, after: 2*time.Hour + 15*time.Minute, status: Acknowledged, runStep: 1, events: []string{outcome.Acknowledged}, next: 4*time.Hour + 15*time.Minute},
			{in: Input{Kind: Resolve}, after: 3 * time.Hour, status: Resolved, runStep: 1, events: []string{outcome.Resolved}, next: -1},
			{in: timer(4*time.Hour + 15*time.Minute), after: 4*time.Hour + 15*time.Minute, status: Resolved, runStep: 1, next: -1},
		}},
		{"ack_timeout: a re-page resolves the roster anew", repage, mustTime(t, "2026-03-24T23:00:00Z"), []step{
			{in: start, status: Active, run: []string{"carol"}, events: []string{outcome.Started}, next: 5 * time.Minute},
			{in: Input{Kind: Ack, By: "carol"}, after: time.Minute, status: Acknowledged, events: []string{outcome.Acknowledged}, next: 2*time.Hour + time.Minute},
			// From 2026-03-25T00:00Z, a holiday: nobody on call; steps 1 and 2 skipped.
			{in: timer(2*time.Hour + time.Minute), after: 2*time.Hour + time.Minute, status: Active, runStep: 2, run: []string{"alice", "bob"}, skipped: 2,
				events: []string{outcome.Unacknowledged}, next: 2*time.Hour + 2*time.Minute},
		}},
		{"resolve mid-rotation", team, t0, []step{
			{in: start, status: Active, run: []string{"bob"}, events: []string{outcome.Started}, next: 5 * time.Minute},
			{in: timer(5 * time.Minute), after: 5 * time.Minute, status: Active, runStep: 1, run: []string{"bob", "carol", "alice"}, next: 15 * time.Minute},
			{in: Input{Kind: Resolve}, after: 7 * time.Minute, status: Resolved, runStep: 1, events: []string{outcome.Resolved}, next: -1},
			{in: Input{Kind: Ack, By: "x"}, after: 8 * time.Minute, status: Resolved, runStep: 1, next: -1},
		}},
		{"empty roster skips to the named people", empty, t0, []step{
			{in: start, status: Active, runStep: 2, run: []string{"alice", "bob"}, skipped: 2, events: []string{outcome.Started}, next: time.Minute},
			{in: timer(time.Minute), after: time.Minute, status: Active, runStep: 2, loop: 1, run: []string{"alice", "bob"}, skipped: 2, next: 2 * time.Minute},
			{in: timer(2 * time.Minute), after: 2 * time.Minute, status: Exhausted, runStep: 2, loop: 1, events: []string{outcome.Exhausted}, next: -1},
		}},
		{"holiday override: nobody on call", team, holiday, []step{
			{in: start, status: Active, runStep: 2, run: []string{"alice", "bob"}, skipped: 2, events: []string{outcome.Started}, next: time.Minute},
		}},
		{"nothing to call at all is exhausted at once", only, t0, []step{
			{in: start, status: Exhausted, skipped: 1, events: []string{outcome.Started, outcome.Exhausted}, next: -1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st State
			for i, s := range tt.script {
				if s.in.Kind == Timer {
					s.in.At = tt.t0.Add(s.in.At.Sub(t0))
				}
				d := Plan(tt.p, st, s.in, tt.t0.Add(s.after))
				if d.State.Status != s.status {
					t.Fatalf("#%d %s: status %q, want %q", i, s.in.Kind, d.State.Status, s.status)
				}
				if got := d.Run != nil; got != (s.run != nil) {
					t.Fatalf("#%d %s: run %+v, want %q", i, s.in.Kind, d.Run, s.run)
				}
				if d.Run != nil {
					if !reflect.DeepEqual(names(d.Run.People), s.run) || d.Run.Step != s.runStep || d.Run.Loop != s.loop {
						t.Errorf("#%d: ran step %d loop %d calling %q; want step %d loop %d calling %q",
							i, d.Run.Step, d.Run.Loop, names(d.Run.People), s.runStep, s.loop, s.run)
					}
					if want := tt.p.Steps[s.runStep]; d.Run.Strategy != want.Strategy || d.Run.Wait != want.Wait || len(d.Run.Via) != len(want.Via) {
						t.Errorf("#%d: run %+v does not carry step %d's settings", i, d.Run, s.runStep)
					}
				}
				if d.State.Step != s.runStep || d.State.Loop != s.loop {
					t.Errorf("#%d: state at step %d loop %d, want %d %d", i, d.State.Step, d.State.Loop, s.runStep, s.loop)
				}
				if len(d.Skipped) != s.skipped {
					t.Errorf("#%d: skipped %+v, want %d", i, d.Skipped, s.skipped)
				}
				if !reflect.DeepEqual(d.Events, s.events) {
					t.Errorf("#%d: events %q, want %q", i, d.Events, s.events)
				}
				wantNext := time.Time{}
				if s.next >= 0 {
					wantNext = tt.t0.Add(s.next)
				}
				if !d.NextAt.Equal(wantNext) || !d.State.NextAt.Equal(wantNext) {
					t.Errorf("#%d: next at %s (state %s), want %s", i, d.NextAt, d.State.NextAt, wantNext)
				}
				// The state survives the engine's JSON snapshot.
				b, _ := json.Marshal(d.State)
				st = State{}
				if err := json.Unmarshal(b, &st); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestPlanSkipReason(t *testing.T) {
	p := loadTeam(t)
	d := Plan(p, State{}, Input{Kind: Start}, mustTime(t, "2026-03-25T12:00:00Z"))
	want := []SkippedStep{
		{Step: 0, Reason: "nobody is on call (an override without a person covers this time)"},
		{Step: 1, Reason: "nobody is on call (an override without a person covers this time)"},
	}
	if !reflect.DeepEqual(d.Skipped, want) {
		t.Errorf("skipped %+v, want %+v", d.Skipped, want)
	}
}

func TestPlanRepage(t *testing.T) {
	p := loadTeam(t)
	p.AckTimeout = time.Hour
	t0 := mustTime(t, "2026-03-08T13:30:00Z")
	d := Plan(p, State{}, Input{Kind: Start}, t0)
	d = Plan(p, d.State, Input{Kind: Timer, At: d.NextAt}, d.NextAt) // step 2, at +5m
	acked := Plan(p, d.State, Input{Kind: Ack, By: "bob", Via: "sms"}, t0.Add(6*time.Minute))
	if want := t0.Add(time.Hour + 6*time.Minute); !acked.NextAt.Equal(want) || !acked.State.NextAt.Equal(want) || !acked.State.Finished() {
		t.Fatalf("ack: %+v; want finished, next at %s", acked, want)
	}
	re := Plan(p, acked.State, Input{Kind: Timer, At: acked.NextAt}, acked.NextAt)
	want := State{Status: Active, Step: 0, Loop: 0, StartedAt: t0, StepStartedAt: acked.NextAt, NextAt: acked.NextAt.Add(5 * time.Minute)}
	if !reflect.DeepEqual(re.State, want) {
		t.Errorf("re-paged state:\n%+v\nwant\n%+v", re.State, want)
	}
	if re.Run == nil || re.Run.Step != 0 || re.Run.Loop != 0 || !reflect.DeepEqual(re.Events, []string{outcome.Unacknowledged}) {
		t.Errorf("re-page: %+v", re)
	}
	// Without ack_timeout, acknowledged is the end.
	p.AckTimeout = 0
	acked = Plan(p, d.State, Input{Kind: Ack, By: "bob"}, t0.Add(6*time.Minute))
	if !acked.NextAt.IsZero() || !acked.State.NextAt.IsZero() {
		t.Errorf("ack without ack_timeout wakes up at %s", acked.NextAt)
	}
	if again := Plan(p, acked.State, Input{Kind: Timer}, t0.Add(48*time.Hour)); !reflect.DeepEqual(again.State, acked.State) || again.Run != nil || again.Events != nil {
		t.Errorf("a timer re-paged an acknowledgement without ack_timeout: %+v", again)
	}
}

// TestSnapshotBeforeSharedRosters: an escalation stored before shared
// rosters and layers (its policy's roster as it was written then, the
// override's single person) runs the same after the upgrade.
func TestSnapshotBeforeSharedRosters(t *testing.T) {
	const old = `{"name":"team","match":{},"people":{"alice":{"name":"alice","phone":"+818012345678"},` +
		`"bob":{"name":"bob","phone":"+819011112222"},"carol":{"name":"carol","phone":"+817012345678"}},` +
		`"roster":{"people":["alice","bob","carol"],"handoff":"daily","start":"2026-03-01T09:00:00-05:00","time_zone":"America/New_York",` +
		`"overrides":[{"person":"carol","start":"2026-03-20T00:00:00Z","end":"2026-03-21T00:00:00Z"},{"start":"2026-03-25T00:00:00Z","end":"2026-03-26T00:00:00Z"}]},` +
		`"steps":[{"notify":{"kind":"oncall"},"strategy":"single","via":[{"provider":"iotcall","iotcall":{"rule":"oncall"}}],"wait":300000000000},` +
		`{"notify":{"kind":"roster"},"strategy":"rotation","via":[{"provider":"iotcall","iotcall":{"rule":"rot"}}],"wait":600000000000}]}`
	var p Policy
	if err := json.Unmarshal([]byte(old), &p); err != nil {
		t.Fatal(err)
	}
	team := loadTeam(t)
	for _, at := range []string{"2026-03-08T13:30:00Z", "2026-03-20T12:00:00Z", "2026-03-25T12:00:00Z"} {
		now := mustTime(t, at)
		for i := range p.Steps {
			got, why := p.Resolve(p.Steps[i].Notify, now)
			want, why2 := team.Resolve(team.Steps[i].Notify, now)
			if !reflect.DeepEqual(names(got), names(want)) || why != why2 {
				t.Errorf("step %d at %s: the old snapshot calls %q (%s), want %q (%s)", i, at, names(got), why, names(want), why2)
			}
		}
	}
}
