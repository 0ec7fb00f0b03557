package ledger

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/escalator-oss/escalator/internal/outcome"
)

// stepDetail lists a step's calls and outcomes (all its loops when loop is
// LoopUnknown), and the escalation's started and final outcomes around them.
func stepDetail(e *escRuns, calls []Call, step, loop int) []string {
	var out []string
	if len(calls) > 0 {
		out = append(out, "calls at the simulators:")
		out = append(out, indent(callLines(calls))...)
	}
	var sel []outcome.Outcome
	for _, o := range e.outcomes {
		if o.Event == outcome.Started || o.Event == outcome.Exhausted || o.Event == outcome.Acknowledged || o.Event == outcome.Resolved ||
			(o.Step == step && (loop == LoopUnknown || o.Loop == loop)) {
			sel = append(sel, o)
		}
	}
	out = append(out, "outcomes (the step's, and the escalation's start and end):")
	return append(out, indent(outcomeLines(sel))...)
}

func indent(lines []string) []string {
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return lines
}

// at formats a time as problems show it: UTC, to the millisecond.
func at(t time.Time) string { return t.UTC().Format("15:04:05.000") }

func callLines(calls []Call) []string {
	calls = slices.Clone(calls)
	slices.SortStableFunc(calls, func(a, b Call) int { return a.At.Compare(b.At) })
	var out []string
	for _, c := range calls {
		l := fmt.Sprintf("%s %s %s", at(c.At), c.Provider, c.Ref)
		if c.Via != "" {
			l += " via " + c.Via
		}
		if c.Escalation != "" {
			l += fmt.Sprintf(" (tagged %s step %d loop %s)", c.Escalation, c.Step, loopString(c.Loop))
		}
		out = append(out, l)
	}
	return out
}

// maxOutcomeLines bounds the outcomes one problem lists.
const maxOutcomeLines = 30

func outcomeLines(list []outcome.Outcome) []string {
	var out []string
	for i, o := range list {
		if i == maxOutcomeLines {
			out = append(out, fmt.Sprintf("… and %d more outcomes", len(list)-maxOutcomeLines))
			break
		}
		out = append(out, outcomeLine(o))
	}
	return out
}

func outcomeLine(o outcome.Outcome) string {
	l := fmt.Sprintf("%s %s step %d loop %d", at(o.At), o.Event, o.Step, o.Loop)
	if o.Provider != "" {
		l += " " + o.Provider
	}
	if len(o.References) > 0 {
		l += " " + strings.Join(o.References, ",")
	}
	if o.Next != "" {
		l += " → " + o.Next
	}
	if o.InDoubt {
		l += " in_doubt"
	}
	if o.Pending {
		l += " pending"
	}
	if o.Error != "" {
		l += fmt.Sprintf(" error %q", o.Error)
	}
	return l
}
