package policy

import (
	"fmt"
	"time"

	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/provider"
)

// Status is where an escalation stands.
type Status string

// The statuses of an escalation. Every status but Active is final.
const (
	Active       Status = "active"
	Acknowledged Status = "acknowledged"
	Resolved     Status = "resolved"
	Exhausted    Status = "exhausted"
)

// State is an escalation's progress through its policy. Its zero value is an
// escalation not yet started.
type State struct {
	Status Status `json:"status,omitempty"`
	// Step is the index of the current step; Loop counts the runs of all
	// steps from 0 (the policy's repeat allows Loop up to Repeat).
	Step int `json:"step"`
	Loop int `json:"loop"`
	// StartedAt is when the escalation started; StepStartedAt when the
	// current step did.
	StartedAt     time.Time `json:"started_at"`
	StepStartedAt time.Time `json:"step_started_at"`
	// NextAt is when the current step's wait ends; for an escalation
	// acknowledged under a policy with an ack_timeout, when it is re-paged
	// (a Timer then starts it again from step 1); zero when nothing is due.
	NextAt time.Time `json:"next_at"`
	// EndedAt and By say when and by whom it was acknowledged or resolved,
	// Via how (see Input.Via).
	EndedAt time.Time `json:"ended_at"`
	By      string    `json:"by,omitempty"`
	Via     string    `json:"via,omitempty"`
}

// Finished reports whether the escalation has no more steps to run. An
// acknowledged escalation is finished; under a policy with an ack_timeout it
// may still be re-paged by a Timer at its NextAt.
func (s State) Finished() bool { return s.Status != "" && s.Status != Active }

// InputKind is what happened to an escalation.
type InputKind string

// The inputs Plan understands.
const (
	// Start begins the escalation.
	Start InputKind = "start"
	// Timer is a wake-up; At is the NextAt it was scheduled for (zero:
	// unknown). For an acknowledged escalation it is the ack_timeout's
	// re-page, which the caller sends only while its alerts still fire.
	Timer InputKind = "timer"
	// Ack is an acknowledgement by By.
	Ack InputKind = "ack"
	// Resolve is the alert's resolution.
	Resolve InputKind = "resolve"
)

// Input is one thing that happened to an escalation.
type Input struct {
	Kind InputKind `json:"kind"`
	At   time.Time `json:"at"`
	By   string    `json:"by,omitempty"`
	// Via says how an Ack or a Resolve came: "alert" (an alert event),
	// "answer" (a call reported answered), "sms", "api".
	Via string `json:"via,omitempty"`
}

// StepRun is one step's calls to place now.
type StepRun struct {
	Step         int               `json:"step"`
	Loop         int               `json:"loop"`
	People       []provider.Person `json:"people"`
	Strategy     provider.Strategy `json:"strategy"`
	StopOnAnswer bool              `json:"stop_on_answer,omitempty"`
	PassOn       bool              `json:"pass_on,omitempty"`
	Via          []provider.Via    `json:"via"`
	Wait         time.Duration     `json:"wait"`
	// RoundRobin, for a step of strategy provider.RoundRobin, is the key of
	// the position the engine keeps for its candidates: "roster/<name>" for
	// a shared roster, "policy/<policy>/roster" for the policy's own,
	// "policy/<policy>/step/<index>" for a list. People are then every
	// candidate, in an order that does not move with the hand-offs; the
	// engine calls People[position % len(People)], as provider.Single.
	RoundRobin string `json:"round_robin,omitempty"`
}

// SkippedStep is a step skipped at once because it resolved to nobody.
type SkippedStep struct {
	Step   int    `json:"step"`
	Loop   int    `json:"loop"`
	Reason string `json:"reason"`
}

// Decision is what Plan says happens next.
type Decision struct {
	// State is the new state; the caller stores it (with compare-and-set).
	State State `json:"state"`
	// Run, when not nil, is the step whose calls to place now.
	Run *StepRun `json:"run,omitempty"`
	// Skipped lists the steps passed over at once because nobody was to call.
	Skipped []SkippedStep `json:"skipped,omitempty"`
	// Events are the outcome names this transition produces.
	Events []string `json:"events,omitempty"`
	// NextAt is the next wake-up (zero: none).
	NextAt time.Time `json:"next_at"`
}

// Plan is the pure heart of an escalation: from the policy, the state, what
// happened and the time, it returns the new state and what to do. It is
// idempotent: a Timer before st.NextAt or for another wake-up (a stale or
// duplicate delivery), a second Start, and any input once the escalation is
// finished change nothing and place no calls, except that an acknowledged
// escalation is resolved when its alert resolves, and re-paged by a Timer
// at its NextAt under a policy with an ack_timeout: it starts again from
// step 1 of the first run (StartedAt stays), events "unacknowledged" first.
// Rosters are resolved at now.
func Plan(p *Policy, st State, in Input, now time.Time) Decision {
	noop := Decision{State: st, NextAt: st.NextAt}
	if st.Finished() {
		switch {
		case in.Kind == Resolve && st.Status == Acknowledged:
			// Acknowledged, and now over: say so. When and by whom it
			// was acknowledged stays.
			st.Status, st.Via, st.NextAt = Resolved, in.Via, time.Time{}
			return Decision{State: st, Events: []string{outcome.Resolved}}
		case in.Kind == Timer && st.Status == Acknowledged && !st.NextAt.IsZero() && due(st, in, now):
			// The acknowledgement has timed out and the alert still
			// fires: page again from the top.
			st.Status, st.EndedAt, st.By, st.Via = Active, time.Time{}, "", ""
			d := enter(p, st, 0, 0, now)
			d.Events = append([]string{outcome.Unacknowledged}, d.Events...)
			return d
		}
		return noop
	}
	switch in.Kind {
	case Start:
		if st.Status != "" {
			return noop
		}
		st = State{Status: Active, StartedAt: now}
		d := enter(p, st, 0, 0, now)
		d.Events = append([]string{outcome.Started}, d.Events...)
		return d
	case Timer:
		if st.Status != Active || !due(st, in, now) {
			return noop
		}
		step, loop := st.Step+1, st.Loop
		if step >= len(p.Steps) {
			step, loop = 0, loop+1
		}
		return enter(p, st, step, loop, now)
	case Ack, Resolve:
		if st.Status != Active {
			return noop
		}
		ev := outcome.Acknowledged
		st.Status = Acknowledged
		if in.Kind == Resolve {
			st.Status, ev = Resolved, outcome.Resolved
		}
		st.EndedAt, st.By, st.Via, st.NextAt = now, in.By, in.Via, time.Time{}
		if st.Status == Acknowledged && p.AckTimeout > 0 {
			st.NextAt = now.Add(p.AckTimeout)
		}
		return Decision{State: st, Events: []string{ev}, NextAt: st.NextAt}
	}
	return noop
}

// due reports whether the Timer in is the wake-up st waits for, and its
// time has come.
func due(st State, in Input, now time.Time) bool {
	return !now.Before(st.NextAt) && (in.At.IsZero() || in.At.Equal(st.NextAt))
}

// enter starts step (step, loop), skipping at once every step that resolves
// to nobody, and exhausts the escalation past its last repeat. Whom a step
// resolves to depends only on the step and now, so once every step has been
// skipped, further rounds would skip them all again: the escalation is
// exhausted at once (a large repeat must not loop, nor list a skip per round).
func enter(p *Policy, st State, step, loop int, now time.Time) Decision {
	var d Decision
	for tries := 0; tries < len(p.Steps); tries++ {
		if step >= len(p.Steps) {
			step, loop = 0, loop+1
		}
		if loop > p.Repeat || len(p.Steps) == 0 {
			st.Status, st.NextAt, st.EndedAt = Exhausted, time.Time{}, now
			d.State, d.NextAt = st, time.Time{}
			d.Events = append(d.Events, outcome.Exhausted)
			return d
		}
		s := p.Steps[step]
		var people []provider.Person
		var reason, key string
		if s.Strategy == provider.RoundRobin {
			people, reason = p.Candidates(s.Notify)
			key = roundRobinKey(p, step, s.Notify)
		} else {
			people, reason = p.Resolve(s.Notify, now)
		}
		if len(people) == 0 {
			d.Skipped = append(d.Skipped, SkippedStep{Step: step, Loop: loop, Reason: reason})
			step++
			continue
		}
		st.Step, st.Loop, st.StepStartedAt, st.NextAt = step, loop, now, now.Add(s.Wait)
		d.State, d.NextAt = st, st.NextAt
		d.Run = &StepRun{Step: step, Loop: loop, People: people, Strategy: s.Strategy,
			StopOnAnswer: s.StopOnAnswer, PassOn: s.PassOn, Via: s.Via, Wait: s.Wait, RoundRobin: key}
		return d
	}
	st.Status, st.NextAt, st.EndedAt = Exhausted, time.Time{}, now
	d.State = st
	d.Events = append(d.Events, outcome.Exhausted)
	return d
}

// Resolve returns the people a step's Notify means at t, in calling order,
// or nobody with the reason.
func (p *Policy) Resolve(nt Notify, t time.Time) ([]provider.Person, string) {
	var names []string
	r := p.rosterOf(nt)
	switch nt.Kind {
	case NotifyPeople:
		names = nt.People
	case NotifyOnCall:
		names = r.OnCall(t)
	case NotifyRoster:
		names = r.Order(t)
	}
	if out := persons(names, p.People); len(out) > 0 {
		return out, ""
	}
	if nt.Kind == NotifyPeople {
		return nil, "none of the people listed is defined"
	}
	return nil, p.nobody(nt, r, t)
}

// Candidates returns the people a round_robin step goes round, in a fixed
// order (the list's; a roster's members in definition order, the base
// first, then each layer, each once), or nobody with the reason.
func (p *Policy) Candidates(nt Notify) ([]provider.Person, string) {
	if out := persons(candidates(nt, p), p.People); len(out) > 0 {
		return out, ""
	}
	if nt.Kind == NotifyPeople {
		return nil, "none of the people listed is defined"
	}
	r := p.rosterOf(nt)
	if r == nil {
		return nil, p.nobody(nt, r, time.Time{})
	}
	return nil, rosterName(nt) + " has no rotation people to go round"
}

// nobody says why a roster step resolved to nobody at t.
func (p *Policy) nobody(nt Notify, r *Roster, t time.Time) string {
	switch {
	case r == nil && nt.Roster != "":
		return fmt.Sprintf("notify %s: roster %s is not in the policy", nt.Kind, nt.Roster)
	case r == nil:
		return fmt.Sprintf("notify %s: the policy has no roster", nt.Kind)
	case len(r.Everyone()) == 0:
		return rosterName(nt) + " is empty"
	}
	if c := r.cover(t); c.Source == SourceOverride {
		if nt.Roster != "" {
			return fmt.Sprintf("nobody is on call in roster %s (an override without a person covers this time)", nt.Roster)
		}
		return "nobody is on call (an override without a person covers this time)"
	}
	if nt.Roster != "" {
		return fmt.Sprintf("nobody is on call in roster %s (no layer covers this time, and the base rotation has nobody)", nt.Roster)
	}
	return "nobody is on call (no layer covers this time, and the base rotation has nobody)"
}

// rosterName writes which roster a notify means: "roster db-primary", "the
// roster".
func rosterName(nt Notify) string {
	if nt.Roster != "" {
		return "roster " + nt.Roster
	}
	return "the roster"
}
