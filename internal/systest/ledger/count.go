package ledger

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/escalator-oss/escalator/internal/outcome"
)

// stepKey is one step of one escalation in one loop (LoopUnknown: every
// loop of the step, when the calls do not say theirs).
type stepKey struct {
	esc        string
	step, loop int
}

// stepRuns is what the outcomes say of one step.
type stepRuns struct {
	key      stepKey
	outcomes []outcome.Outcome
	// normal and doubt count, by provider, the outcomes that end a run's
	// part at that provider (dispatched, dispatch_failed), not in doubt and
	// in doubt.
	normal, doubt map[string]int
	// dispatched are dispatched outcomes not in doubt; placed those (in
	// doubt or not) that are not pending, each one call at a simulator,
	// placedIoT the IoTCall ones.
	dispatched, placed, placedIoT int
}

func (s *stepRuns) inDoubt() int { return maxOf(s.doubt) }
func (s *stepRuns) runs() int    { return maxOf(s.normal) }

func maxOf(m map[string]int) int {
	n := 0
	for _, v := range m {
		n = max(n, v)
	}
	return n
}

// escRuns is what the outcomes say of one escalation.
type escRuns struct {
	id, alert       string
	outcomes        []outcome.Outcome
	started, finals int
	steps           map[stepKey]*stepRuns
}

// Count counts run and says what is wrong with it.
func Count(run Run) Report {
	r := Report{Alerts: len(run.Alerts), Events: map[string]int{}, CallsBy: map[string]int{}, Failures: map[string]int{}}
	sent := map[string]bool{}
	for _, id := range run.Alerts {
		sent[id] = true
	}
	add := func(p Problem) { r.Problems = append(r.Problems, p) }

	escs := map[string]*escRuns{}
	byAlert := map[string][]string{}
	named := map[string]bool{} // provider + " " + reference named by a dispatched outcome
	for _, o := range run.Outcomes {
		if o.Event == outcome.Dispatched {
			for _, ref := range o.References {
				named[o.Provider+" "+ref] = true
			}
		}
		if !sent[o.AlertID] {
			continue
		}
		r.Events[o.Event]++
		if o.Event == outcome.Unmatched {
			add(Problem{Kind: Lost, Alert: o.AlertID, Step: -1, What: "matched no policy", Detail: []string{outcomeLine(o)}})
			continue
		}
		e := escs[o.EscalationID]
		if e == nil {
			e = &escRuns{id: o.EscalationID, alert: o.AlertID, steps: map[stepKey]*stepRuns{}}
			escs[o.EscalationID] = e
			byAlert[o.AlertID] = append(byAlert[o.AlertID], o.EscalationID)
		}
		e.outcomes = append(e.outcomes, o)
		switch o.Event {
		case outcome.Started:
			e.started++
		case outcome.Exhausted, outcome.Acknowledged, outcome.Resolved:
			e.finals++
		case outcome.Dispatched, outcome.DispatchFailed, outcome.Fallback, outcome.Refused, outcome.Skipped:
			k := stepKey{o.EscalationID, o.Step, o.Loop}
			s := e.steps[k]
			if s == nil {
				s = &stepRuns{key: k, normal: map[string]int{}, doubt: map[string]int{}}
				e.steps[k] = s
			}
			s.outcomes = append(s.outcomes, o)
			if o.Event == outcome.Dispatched || o.Event == outcome.DispatchFailed {
				if o.InDoubt {
					s.doubt[o.Provider]++
				} else {
					s.normal[o.Provider]++
				}
			}
			if o.Event == outcome.Dispatched {
				if !o.InDoubt {
					s.dispatched++
				}
				if !o.Pending {
					s.placed++
					if o.Provider == IoTCall {
						s.placedIoT++
					}
				}
			}
			if o.Event == outcome.DispatchFailed {
				r.Failures[o.Provider+": "+o.Error]++
			}
		}
	}

	need := max(run.Steps, 1)
	for _, id := range run.Alerts {
		ids := byAlert[id]
		done := false
		for _, e := range ids {
			done = done || escs[e].finals > 0
		}
		if !done {
			r.AlertsLost++
		}
		switch {
		case len(ids) == 0:
			add(Problem{Kind: Lost, Alert: id, Step: -1, What: "no escalation: no outcome names the alert"})
		case len(ids) > 1:
			r.StartedTwice++
			add(Problem{Kind: Duplicated, Alert: id, Step: -1, What: fmt.Sprintf("%d escalations: %s", len(ids), strings.Join(ids, ", "))})
		}
		for _, eid := range ids {
			countEscalation(&r, escs[eid], need, add)
		}
	}

	countCalls(&r, run, escs, named, add)

	order := map[Kind]int{Lost: 0, Duplicated: 1, Harness: 2}
	slices.SortStableFunc(r.Problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(order[a.Kind], order[b.Kind]), cmp.Compare(a.Escalation, b.Escalation),
			cmp.Compare(a.Alert, b.Alert), cmp.Compare(a.Step, b.Step), cmp.Compare(a.Loop, b.Loop))
	})
	return r
}

// countEscalation checks one escalation's outcomes: started once, one final
// outcome, its steps run, each dispatched once unless in doubt.
func countEscalation(r *Report, e *escRuns, need int, add func(Problem)) {
	r.Escalations++
	whole := func(kind Kind, what string) {
		add(Problem{Kind: kind, Alert: e.alert, Escalation: e.id, Step: -1, What: what, Detail: outcomeLines(e.outcomes)})
	}
	switch {
	case e.started == 0:
		r.StartedMissing++
		whole(Lost, "no started outcome")
	case e.started > 1:
		whole(Duplicated, fmt.Sprintf("%d started outcomes", e.started))
	}
	if e.started > 0 {
		r.Started++
	}
	switch {
	case e.finals == 0:
		whole(Lost, "no final outcome (exhausted, acknowledged or resolved)")
	case e.finals > 1:
		whole(Duplicated, fmt.Sprintf("%d final outcomes", e.finals))
	}
	if e.finals > 0 {
		r.Completed++
	}
	if len(e.steps) == 0 {
		r.Silent++
		r.StepsLost += need
		whole(Lost, "silent: no step ran (no dispatched, dispatch_failed, fallback, refused or skipped outcome)")
		return
	}
	for step := range need {
		if e.steps[stepKey{e.id, step, 0}] == nil {
			r.StepsLost++
			add(Problem{Kind: Lost, Alert: e.alert, Escalation: e.id, Step: step, Loop: 0,
				What: "never ran (no dispatched, dispatch_failed, fallback, refused or skipped outcome)", Detail: outcomeLines(e.outcomes)})
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(e.steps), byStep) {
		s := e.steps[k]
		r.Steps++
		if s.dispatched > 0 || s.placed > 0 {
			r.StepsDispatched++
		}
		r.InDoubt += s.inDoubt()
		if n := s.runs(); n > 1 {
			add(Problem{Kind: Duplicated, Alert: e.alert, Escalation: e.id, Step: k.step, Loop: k.loop,
				What:   fmt.Sprintf("ran %d times not in doubt (%d dispatched outcomes not in doubt)", n, s.dispatched),
				Detail: stepDetail(e, nil, k.step, k.loop)})
		}
	}
}

// countCalls attributes the calls at the simulators to steps (each its own,
// when tagged; all steps at once otherwise) and checks that calls beyond one
// per step are in-doubt re-runs.
func countCalls(r *Report, run Run, escs map[string]*escRuns, named map[string]bool, add func(Problem)) {
	r.Calls = len(run.Calls)
	for _, c := range run.Calls {
		r.CallsBy[c.Provider]++
	}
	for _, p := range slices.Sorted(maps.Keys(run.AtSimulators)) {
		if run.AtSimulators[p] != r.CallsBy[p] {
			add(Problem{Kind: Harness, Step: -1, What: fmt.Sprintf("%s: the fronts saw %d calls, the simulator recorded %d",
				p, r.CallsBy[p], run.AtSimulators[p])})
		}
	}
	for p := range run.AtSimulators {
		if _, ok := r.CallsBy[p]; !ok {
			r.CallsBy[p] = 0 // shown in the summary as a provider with no call
		}
	}
	isNamed := func(c Call) bool { return !uniqueRefs[c.Provider] || named[c.Provider+" "+c.Ref] }
	if run.Tagged {
		countTagged(r, run.Calls, escs, isNamed, add)
		return
	}

	// Untagged: each step dispatched accounts for one call; the rest must be
	// in-doubt re-runs, and so must the calls no outcome names.
	placed, placedIoT, iot := 0, 0, 0
	var strays []Call
	for _, e := range escs {
		for _, s := range e.steps {
			if s.placed > 0 {
				placed++
			}
			placedIoT += s.placedIoT
		}
	}
	for _, c := range run.Calls {
		if c.Provider == IoTCall {
			iot++
		}
		if !isNamed(c) {
			r.Unattributed++
			strays = append(strays, c)
		}
	}
	r.Unattributed += max(0, iot-placedIoT)
	if placed > r.Calls {
		add(Problem{Kind: Lost, Step: -1, What: fmt.Sprintf("%d steps dispatched (not pending) but only %d calls at the simulators", placed, r.Calls)})
	}
	r.ExtraCalls = max(0, r.Calls-placed)
	r.Unexplained = max(0, r.ExtraCalls-r.InDoubt)
	if r.Unexplained > 0 {
		add(Problem{Kind: Duplicated, Step: -1, What: fmt.Sprintf("%d calls beyond one per step dispatched (%d calls, %d steps), only %d in-doubt re-runs explain them; "+
			"the workers' calls are untagged, so the calls no outcome names are listed", r.ExtraCalls, r.Calls, placed, r.InDoubt),
			Detail: callLines(strays)})
	}
	if r.Unattributed > r.InDoubt {
		add(Problem{Kind: Lost, Step: -1, What: fmt.Sprintf("%d calls named by no outcome (%d IoTCall calls, %d IoTCall dispatched outcomes), only %d in-doubt re-runs",
			r.Unattributed, iot, placedIoT, r.InDoubt), Detail: callLines(strays)})
	}
}

// countTagged attributes each call to the step it was tagged with.
func countTagged(r *Report, calls []Call, escs map[string]*escRuns, isNamed func(Call) bool, add func(Problem)) {
	// The calls say their loop, or none does (dispatch.Request has no loop
	// yet): then a step is counted over all its loops.
	loopKnown := true
	for _, c := range calls {
		if c.Escalation != "" && c.Loop == LoopUnknown {
			loopKnown = false
		}
	}
	group := func(k stepKey) stepKey {
		if !loopKnown {
			k.loop = LoopUnknown
		}
		return k
	}
	byStepCalls := map[stepKey][]Call{}
	for _, c := range calls {
		if c.Escalation == "" {
			r.ExtraCalls++
			r.Unexplained++
			add(Problem{Kind: Duplicated, Step: -1, What: "a call placed outside any step (its request carried no tag)", Detail: callLines([]Call{c})})
			continue
		}
		k := group(stepKey{c.Escalation, c.Step, c.Loop})
		byStepCalls[k] = append(byStepCalls[k], c)
	}
	// Every step with outcomes, with or without calls.
	runsOf := map[stepKey][]*stepRuns{}
	for _, e := range escs {
		for k, s := range e.steps {
			runsOf[group(k)] = append(runsOf[group(k)], s)
		}
	}
	keys := slices.Collect(maps.Keys(runsOf))
	for k := range byStepCalls {
		if runsOf[k] == nil {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, byStep)
	for _, k := range keys {
		cs, runs := byStepCalls[k], runsOf[k]
		e := escs[k.esc]
		if e == nil {
			r.ExtraCalls += len(cs)
			r.Unexplained += len(cs)
			add(Problem{Kind: Duplicated, Escalation: k.esc, Step: k.step, Loop: k.loop,
				What: fmt.Sprintf("%d calls for an escalation no outcome of the alerts sent names", len(cs)), Detail: callLines(cs)})
			continue
		}
		allowed, inDoubt, placed, placedIoT := 0, 0, 0, 0
		for _, s := range runs {
			allowed += 1 + s.inDoubt()
			inDoubt += s.inDoubt()
			placed += s.placed
			placedIoT += s.placedIoT
		}
		allowed = max(allowed, 1)
		iot, unattributed := 0, 0
		for _, c := range cs {
			if c.Provider == IoTCall {
				iot++
			}
			if !isNamed(c) {
				unattributed++
			}
		}
		unattributed += max(0, iot-placedIoT)
		r.Unattributed += unattributed
		r.ExtraCalls += max(0, len(cs)-1)
		problem := func(kind Kind, format string, args ...any) {
			add(Problem{Kind: kind, Alert: e.alert, Escalation: k.esc, Step: k.step, Loop: k.loop,
				What: fmt.Sprintf(format, args...), Detail: stepDetail(e, cs, k.step, k.loop)})
		}
		if n := len(cs) - allowed; n > 0 {
			r.Unexplained += n
			problem(Duplicated, "%d calls at the simulators, %d unexplained: one per step and one per in-doubt re-run (%d) explain %d",
				len(cs), n, inDoubt, allowed)
		}
		if placed > len(cs) {
			problem(Lost, "%d dispatched outcomes (not pending) but %d calls at the simulators", placed, len(cs))
		}
		if unattributed > inDoubt {
			problem(Lost, "%d calls named by no outcome, only %d in-doubt re-runs of the step", unattributed, inDoubt)
		}
	}
}

func byStep(a, b stepKey) int {
	return cmp.Or(cmp.Compare(a.esc, b.esc), cmp.Compare(a.step, b.step), cmp.Compare(a.loop, b.loop))
}
