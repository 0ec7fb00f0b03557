package ledger

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/outcome"
)

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

// ev is one outcome of alert a<n>'s escalation e<n>, ms milliseconds after t0.
func ev(n int, event string, step, ms int, provider string, refs ...string) outcome.Outcome {
	return outcome.Outcome{EscalationID: fmt.Sprintf("e%d", n), AlertID: fmt.Sprintf("a%d", n), Event: event, Step: step,
		At: t0.Add(time.Duration(ms) * time.Millisecond), Provider: provider, References: refs}
}

func inDoubt(o outcome.Outcome) outcome.Outcome { o.InDoubt = true; return o }

// call is a call at a simulator, tagged with e<n>'s step (n 0: untagged).
func call(n, step, ms int, provider, ref string) Call {
	c := Call{Provider: provider, Ref: ref, At: t0.Add(time.Duration(ms) * time.Millisecond), Via: "worker 1", Step: -1, Loop: LoopUnknown}
	if n > 0 {
		c.Escalation, c.Step = fmt.Sprintf("e%d", n), step
	}
	return c
}

// oneStep is escalation e<n>: started, one Yemot call (campaign c<n>),
// exhausted.
func oneStep(n int) []outcome.Outcome {
	return []outcome.Outcome{
		ev(n, outcome.Started, 0, 0, ""),
		ev(n, outcome.Dispatched, 0, 100, Yemot, fmt.Sprintf("c%d", n)),
		ev(n, outcome.Exhausted, 0, 1100, ""),
	}
}

func without(os []outcome.Outcome, event string) []outcome.Outcome {
	return slices.DeleteFunc(slices.Clone(os), func(o outcome.Outcome) bool { return o.Event == event })
}

func TestCount(t *testing.T) {
	alerts := []string{"a1", "a2"}
	clean := slices.Concat(oneStep(1), oneStep(2))
	cleanCalls := []Call{call(1, 0, 90, Yemot, "c1"), call(2, 0, 95, Yemot, "c2")}
	// e1's step 0 placed by a worker that died before it reported (campaign
	// c9), then placed again in doubt (c1).
	rerun := slices.Concat([]outcome.Outcome{
		ev(1, outcome.Started, 0, 0, ""),
		inDoubt(ev(1, outcome.Dispatched, 0, 60_100, Yemot, "c1")),
		ev(1, outcome.Exhausted, 0, 61_100, ""),
	}, oneStep(2))
	rerunCalls := append([]Call{call(1, 0, 80, Yemot, "c9")}, cleanCalls...)
	rerunCalls[1].At = t0.Add(60 * time.Second)

	tests := []struct {
		name string
		run  Run
		// want counts problems by kind; what are parts of their lines.
		want map[Kind]int
		what []string
		// check looks at the figures.
		check func(Report) string
	}{
		{name: "clean, tagged", run: Run{Alerts: alerts, Outcomes: clean, Calls: cleanCalls, Tagged: true,
			AtSimulators: map[string]int{Yemot: 2}},
			check: func(r Report) string {
				if r.Escalations != 2 || r.Completed != 2 || r.StepsDispatched != 2 || r.Calls != 2 || r.ExtraCalls != 0 || r.InDoubt != 0 {
					return r.Summary()
				}
				return ""
			}},
		{name: "clean, untagged", run: Run{Alerts: alerts, Outcomes: clean, Calls: []Call{call(0, 0, 90, Yemot, "c1"), call(0, 0, 95, Yemot, "c2")}}},
		{name: "a dispatched outcome dropped", run: Run{Alerts: alerts, Outcomes: slices.Delete(slices.Clone(clean), 1, 2), Calls: cleanCalls, Tagged: true},
			want: map[Kind]int{Lost: 2}, what: []string{"e1 (alert a1): silent", "e1 (alert a1) step 0 loop ?: 1 calls named by no outcome"}},
		{name: "a dispatched outcome dropped, untagged", run: Run{Alerts: alerts, Outcomes: slices.Delete(slices.Clone(clean), 1, 2),
			Calls: []Call{call(0, 0, 90, Yemot, "c1"), call(0, 0, 95, Yemot, "c2")}},
			want: map[Kind]int{Lost: 2, Duplicated: 1}, what: []string{"silent", "1 calls beyond one per step dispatched (2 calls, 1 steps)", "1 calls named by no outcome"}},
		{name: "an extra call, tagged", run: Run{Alerts: alerts, Outcomes: clean, Calls: append(slices.Clone(cleanCalls), call(2, 0, 700, Yemot, "c7")), Tagged: true},
			want: map[Kind]int{Duplicated: 1, Lost: 1},
			what: []string{"e2 (alert a2) step 0 loop ?: 2 calls at the simulators, 1 unexplained", "10:00:00.700 yemot c7 via worker 1",
				"10:00:00.100 dispatched step 0 loop 0 yemot c2", "e2 (alert a2) step 0 loop ?: 1 calls named by no outcome, only 0 in-doubt"},
			check: func(r Report) string {
				if r.ExtraCalls != 1 || r.Unexplained != 1 {
					return r.Summary()
				}
				return ""
			}},
		{name: "an extra call, untagged", run: Run{Alerts: alerts, Outcomes: clean,
			Calls: []Call{call(0, 0, 90, Yemot, "c1"), call(0, 0, 95, Yemot, "c2"), call(0, 0, 700, IoTCall, "rule")}},
			want: map[Kind]int{Duplicated: 1, Lost: 1}, what: []string{"1 calls beyond one per step dispatched (3 calls, 2 steps), only 0 in-doubt"}},
		{name: "explained by an in-doubt re-run, tagged", run: Run{Alerts: alerts, Outcomes: rerun, Calls: rerunCalls, Tagged: true},
			check: func(r Report) string {
				if r.InDoubt != 1 || r.ExtraCalls != 1 || r.Unexplained != 0 || r.Unattributed != 1 {
					return r.Summary()
				}
				return ""
			}},
		{name: "explained by an in-doubt re-run, untagged", run: Run{Alerts: alerts, Outcomes: rerun,
			Calls: []Call{call(0, 0, 80, Yemot, "c9"), call(0, 0, 60_000, Yemot, "c1"), call(0, 0, 95, Yemot, "c2")}}},
		{name: "an in-doubt re-run explains one call, not two", run: Run{Alerts: alerts, Outcomes: rerun,
			Calls: append(slices.Clone(rerunCalls), call(1, 0, 61_000, Yemot, "c8")), Tagged: true},
			want: map[Kind]int{Duplicated: 1, Lost: 1}, what: []string{"e1 (alert a1) step 0 loop ?: 3 calls at the simulators, 1 unexplained",
				"10:00:00.080 yemot c9", "10:01:00.100 dispatched step 0 loop 0 yemot c1 in_doubt"}},
		{name: "dispatched twice, not in doubt", run: Run{Alerts: alerts,
			Outcomes: append(slices.Clone(clean), ev(1, outcome.Dispatched, 0, 300, Yemot, "c5")),
			Calls:    append(slices.Clone(cleanCalls), call(1, 0, 290, Yemot, "c5")), Tagged: true},
			want: map[Kind]int{Duplicated: 2}, what: []string{"e1 (alert a1) step 0 loop 0: ran 2 times not in doubt", "2 calls at the simulators, 1 unexplained"}},
		{name: "dispatched without a call", run: Run{Alerts: alerts, Outcomes: clean, Calls: cleanCalls[:1], Tagged: true},
			want: map[Kind]int{Lost: 1}, what: []string{"e2 (alert a2) step 0 loop ?: 1 dispatched outcomes (not pending) but 0 calls"}},
		{name: "a pending dispatch needs no call", run: Run{Alerts: alerts[:1], Tagged: true, Outcomes: []outcome.Outcome{
			ev(1, outcome.Started, 0, 0, ""),
			func() outcome.Outcome { o := ev(1, outcome.Dispatched, 0, 100, CCAI); o.Pending = true; return o }(),
			ev(1, outcome.Exhausted, 0, 1100, ""),
		}}},
		{name: "a call no step placed", run: Run{Alerts: alerts, Outcomes: clean, Calls: append(slices.Clone(cleanCalls), call(0, 0, 500, IoTCall, "rule")), Tagged: true},
			want: map[Kind]int{Duplicated: 1}, what: []string{"a call placed outside any step", "10:00:00.500 iotcall rule"}},
		{name: "the fronts and the simulators disagree", run: Run{Alerts: alerts, Outcomes: clean, Calls: cleanCalls, Tagged: true,
			AtSimulators: map[string]int{Yemot: 3, IoTCall: 0}},
			want: map[Kind]int{Harness: 1}, what: []string{"yemot: the fronts saw 2 calls, the simulator recorded 3"}},
		{name: "an alert with no escalation", run: Run{Alerts: append(slices.Clone(alerts), "a3"), Outcomes: clean, Calls: cleanCalls, Tagged: true},
			want: map[Kind]int{Lost: 1}, what: []string{"(alert a3): no escalation"},
			check: func(r Report) string {
				if r.AlertsLost != 1 {
					return r.Summary()
				}
				return ""
			}},
		{name: "an alert with two escalations", run: Run{Alerts: alerts, Tagged: true,
			Outcomes: append(slices.Clone(clean), outcome.Outcome{EscalationID: "e9", AlertID: "a1", Event: outcome.Started, At: t0},
				outcome.Outcome{EscalationID: "e9", AlertID: "a1", Event: outcome.Dispatched, At: t0, Provider: Yemot, References: []string{"c9"}},
				outcome.Outcome{EscalationID: "e9", AlertID: "a1", Event: outcome.Exhausted, At: t0}),
			Calls: append(slices.Clone(cleanCalls), Call{Provider: Yemot, Ref: "c9", Escalation: "e9", Loop: LoopUnknown})},
			want: map[Kind]int{Duplicated: 1}, what: []string{"(alert a1): 2 escalations: e1, e9"}},
		{name: "no started, no final", run: Run{Alerts: alerts, Outcomes: without(without(clean, outcome.Started), outcome.Exhausted), Calls: cleanCalls, Tagged: true},
			want: map[Kind]int{Lost: 4}, what: []string{"e1 (alert a1): no started outcome", "e2 (alert a2): no final outcome"},
			check: func(r Report) string {
				if r.AlertsLost != 2 || r.StartedMissing != 2 {
					return r.Summary()
				}
				return ""
			}},
		{name: "two final outcomes", run: Run{Alerts: alerts, Outcomes: append(slices.Clone(clean), ev(2, outcome.Exhausted, 0, 1200, "")), Calls: cleanCalls, Tagged: true},
			want: map[Kind]int{Duplicated: 1}, what: []string{"e2 (alert a2): 2 final outcomes"}},
		{name: "a step that never ran", run: Run{Alerts: alerts, Outcomes: clean, Calls: cleanCalls, Tagged: true, Steps: 2},
			want: map[Kind]int{Lost: 2}, what: []string{"e1 (alert a1) step 1 loop 0: never ran"},
			check: func(r Report) string {
				if r.StepsLost != 2 {
					return r.Summary()
				}
				return ""
			}},
		{name: "an alert that matched no policy", run: Run{Alerts: []string{"a1"}, Outcomes: []outcome.Outcome{{EscalationID: "", AlertID: "a1", Event: outcome.Unmatched, At: t0}}},
			want: map[Kind]int{Lost: 2}, what: []string{"(alert a1): matched no policy", "(alert a1): no escalation"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Count(tt.run)
			got := map[Kind]int{}
			var lines []string
			for _, p := range r.Problems {
				got[p.Kind]++
				lines = append(lines, p.String())
			}
			all := strings.Join(lines, "\n")
			for _, k := range []Kind{Lost, Duplicated, Harness} {
				if got[k] != tt.want[k] {
					t.Errorf("%d %s problems, want %d; problems:\n%s", got[k], k, tt.want[k], all)
					break
				}
			}
			for _, w := range tt.what {
				if !strings.Contains(all, w) {
					t.Errorf("no problem says %q; problems:\n%s", w, all)
				}
			}
			if tt.check != nil {
				if s := tt.check(r); s != "" {
					t.Errorf("figures: %s", s)
				}
			}
		})
	}
}

// errors records what Fail reports.
type errors struct{ lines []string }

func (e *errors) Helper() {}
func (e *errors) Errorf(format string, args ...any) {
	e.lines = append(e.lines, fmt.Sprintf(format, args...))
}

// TestFailSaysWhatAndReplay: a failing ledger prints the seed line, and for
// an unexplained call the escalation, the step, the calls with their times
// and the step's outcomes with theirs.
func TestFailSaysWhatAndReplay(t *testing.T) {
	r := Count(Run{Alerts: []string{"a1"}, Outcomes: oneStep(1), Tagged: true,
		Calls: []Call{call(1, 0, 90, Yemot, "c1"), call(1, 0, 2500, Yemot, "c4")}})
	var e errors
	r.Fail(&e, "kill-worker", "seed 7 (replay: ESCALATOR_SYSTEST_SEED=7)")
	out := strings.Join(e.lines, "\n")
	for _, want := range []string{
		"kill-worker: the ledger found 2 problems (1 lost, 1 duplicated, 0 harness); seed 7 (replay: ESCALATOR_SYSTEST_SEED=7)",
		"kill-worker: [duplicated] escalation e1 (alert a1) step 0 loop ?: 2 calls at the simulators, 1 unexplained",
		"calls at the simulators:\n      10:00:00.090 yemot c1 via worker 1 (tagged e1 step 0 loop ?)\n      10:00:02.500 yemot c4 via worker 1",
		"10:00:00.000 started step 0 loop 0\n      10:00:00.100 dispatched step 0 loop 0 yemot c1\n      10:00:01.100 exhausted",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Fail printed no %q; it printed:\n%s", want, out)
		}
	}
	var none errors
	Count(Run{Alerts: []string{"a1"}, Outcomes: oneStep(1), Tagged: true, Calls: []Call{call(1, 0, 90, Yemot, "c1")}}).Fail(&none, "x", "seed")
	if len(none.lines) != 0 {
		t.Errorf("a clean run failed: %v", none.lines)
	}
}
