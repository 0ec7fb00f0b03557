// Package ledger is the one ledger of escalator's system tests
// (internal/systest/faults and internal/systest/cluster). From the alerts a
// test sent, the outcomes the workers published on ESCALATIONS and the calls
// the provider simulators accepted, Count says, per escalation and per step
// (step, loop): started once, each step dispatched once unless its re-runs
// are flagged in_doubt, one final outcome, and no call at the simulators
// beyond one per step that an in-doubt re-run does not explain.
//
// When the workers run in the test process with Tagging as their provider
// transport, every call carries its escalation and step, and the ledger says
// exactly which step got an unexplained call. A worker in another process
// (the real binary) cannot tag: its calls are counted against the steps in
// total. Either way, a problem comes with the calls and outcomes that show
// it, each with its time.
package ledger

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/escalator-oss/escalator/internal/outcome"
)

// Run is what one system test saw.
type Run struct {
	// Alerts are the ids of the alerts the test sent. Each must get one
	// escalation; outcomes of other alerts are not counted.
	Alerts []string
	// Outcomes are the outcome events read from ESCALATIONS, in stream order.
	Outcomes []outcome.Outcome
	// Calls are the calls the simulators accepted, as their fronts recorded
	// them (Recorder).
	Calls []Call
	// Tagged says the workers tagged their provider requests (Tagging): each
	// call is then counted against its own step, and an untagged one is a
	// call no step placed.
	Tagged bool
	// AtSimulators, when set, are the calls each simulator recorded itself,
	// by provider; the fronts must have seen exactly as many.
	AtSimulators map[string]int
	// Steps is how many steps (0 … Steps-1, loop 0) every escalation must
	// run; below 1 counts as 1: an escalation calls someone or says why not.
	Steps int
}

// Kind is what a problem costs.
type Kind string

// The kinds of problem, in the order a report lists them.
const (
	// Lost: an alert, an outcome or a step that should be there is not,
	// or a step says it called and no simulator saw the call.
	Lost Kind = "lost"
	// Duplicated: something happened twice that must happen once, or a call
	// no in-doubt re-run explains.
	Duplicated Kind = "duplicated"
	// Harness: the test's own records disagree (a front and its simulator):
	// a bug of the test, not of escalator.
	Harness Kind = "harness"
)

// Problem is one thing the ledger found wrong.
type Problem struct {
	Kind       Kind
	Alert      string
	Escalation string
	// Step and Loop say which step, when the problem is one step's; Step is
	// -1 otherwise.
	Step, Loop int
	// What says what is wrong, in one line.
	What string
	// Detail are the calls and outcomes that show it, one a line, with their
	// times.
	Detail []string
}

func (p Problem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s]", p.Kind)
	if p.Escalation != "" {
		fmt.Fprintf(&b, " escalation %s", p.Escalation)
	}
	if p.Alert != "" {
		fmt.Fprintf(&b, " (alert %s)", p.Alert)
	}
	if p.Step >= 0 {
		fmt.Fprintf(&b, " step %d loop %s", p.Step, loopString(p.Loop))
	}
	fmt.Fprintf(&b, ": %s", p.What)
	for _, d := range p.Detail {
		b.WriteString("\n    " + d)
	}
	return b.String()
}

// Report is the ledger's count of one run.
type Report struct {
	Alerts int
	// Escalations are the escalations of the alerts sent; Started and
	// Completed those with a started and with a final outcome (exhausted,
	// acknowledged, resolved).
	Escalations, Started, Completed int
	// Events counts the outcomes of the alerts sent, by event.
	Events map[string]int
	// AlertsLost are alerts none of whose escalations reached a final
	// outcome (no escalation at all included).
	AlertsLost int
	// StartedTwice are alerts with more than one escalation; StartedMissing
	// escalations without a started outcome.
	StartedTwice, StartedMissing int
	// Silent are escalations no step of which ran (no dispatched,
	// dispatch_failed, fallback, refused or skipped outcome); StepsLost the
	// steps of Run.Steps that never ran.
	Silent, StepsLost int
	// Steps are the (escalation, step, loop) that ran; StepsDispatched those
	// with a dispatched outcome.
	Steps, StepsDispatched int
	// InDoubt are the in-doubt re-runs of steps: per step, the most in-doubt
	// dispatched or dispatch_failed outcomes of any one provider (every run
	// tries its chain's first provider once).
	InDoubt int
	// Calls are the calls at the simulators, CallsBy by provider.
	Calls   int
	CallsBy map[string]int
	// ExtraCalls are the calls beyond one per step dispatched; Unexplained
	// those in-doubt re-runs do not explain.
	ExtraCalls, Unexplained int
	// Unattributed are calls no dispatched outcome names: a run that placed
	// a call and died before it said so. Yemot and CCAI calls are matched by
	// reference; IoTCall calls (one reference per rule) by count.
	Unattributed int
	// Failures counts dispatch_failed outcomes by "provider: error".
	Failures map[string]int
	// Problems are what is wrong, in order of Kind, then escalation and step.
	Problems []Problem
}

// Lost is the number of problems of kind Lost.
func (r Report) Lost() int { return r.count(Lost) }

// Duplicated is the number of problems of kind Duplicated.
func (r Report) Duplicated() int { return r.count(Duplicated) }

func (r Report) count(k Kind) int {
	n := 0
	for _, p := range r.Problems {
		if p.Kind == k {
			n++
		}
	}
	return n
}

// Summary is the report's counts in one line.
func (r Report) Summary() string {
	var by []string
	for _, p := range slices.Sorted(maps.Keys(r.CallsBy)) {
		by = append(by, fmt.Sprintf("%s %d", p, r.CallsBy[p]))
	}
	return fmt.Sprintf("alerts %d, escalations %d (started %d, completed %d), steps %d (dispatched %d), "+
		"outcomes dispatched %d, dispatch_failed %d, fallback %d; in-doubt re-runs %d; calls %d (%s): "+
		"%d beyond one per step, %d unexplained, %d named by no outcome; problems: %d lost, %d duplicated, %d harness",
		r.Alerts, r.Escalations, r.Started, r.Completed, r.Steps, r.StepsDispatched,
		r.Events[outcome.Dispatched], r.Events[outcome.DispatchFailed], r.Events[outcome.Fallback], r.InDoubt,
		r.Calls, strings.Join(by, ", "), r.ExtraCalls, r.Unexplained, r.Unattributed,
		r.Lost(), r.Duplicated(), r.count(Harness))
}

// TB is the part of testing.TB that Fail uses.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// maxShown bounds the problems a failing test prints in full.
const maxShown = 20

// Fail fails t with every problem (the first 20 in full), each prefixed with
// name; replay (the seed line) is in the first message.
func (r Report) Fail(t TB, name, replay string) {
	t.Helper()
	if len(r.Problems) == 0 {
		return
	}
	t.Errorf("%s: the ledger found %d problems (%d lost, %d duplicated, %d harness); %s",
		name, len(r.Problems), r.Lost(), r.Duplicated(), r.count(Harness), replay)
	for i, p := range r.Problems {
		if i == maxShown {
			t.Errorf("%s: … and %d more problems", name, len(r.Problems)-maxShown)
			break
		}
		t.Errorf("%s: %s", name, p)
	}
}

// Provider names, as outcomes and Calls say them.
const (
	IoTCall = "iotcall"
	Yemot   = "yemot"
	CCAI    = "ccai"
)

// uniqueRefs are the providers whose reference names one call.
var uniqueRefs = map[string]bool{Yemot: true, CCAI: true}

func loopString(l int) string {
	if l == LoopUnknown {
		return "?"
	}
	return fmt.Sprint(l)
}
