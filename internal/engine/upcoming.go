package engine

import (
	"context"
	"strings"
	"time"

	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

// maxUpcoming bounds the steps an Upcoming plan lists (a policy's repeats
// may be many).
const maxUpcoming = 50

// Planned is one thing still to come in an escalation if nobody acts: a
// step placed, the end, or a re-page.
type Planned struct {
	At time.Time `json:"at"`
	// Event is "step" (a step's calls placed), "start" (after its quiet:
	// from step 1), "repage" (an acknowledgement times out: from step 1),
	// "skipped" (a step that would call nobody) or "exhausted" (the end).
	Event    string            `json:"event"`
	Step     int               `json:"step"`
	Loop     int               `json:"loop"`
	Strategy provider.Strategy `json:"strategy,omitempty"`
	// People are whom the step would call (for round_robin, every
	// candidate: one of them is picked when the step runs).
	People []provider.Person `json:"people,omitempty"`
	// Via are the providers of the step's chain, in order.
	Via    []string `json:"via,omitempty"`
	Reason string   `json:"reason,omitempty"`
}

// Plan is what is still to come in an escalation: Upcoming's answer.
type Plan struct {
	ID     string        `json:"id"`
	Status policy.Status `json:"status"`
	// From is the moment the plan is made at.
	From  time.Time `json:"from"`
	Steps []Planned `json:"steps"`
}

// Upcoming returns what escalation ref (an id, a short code, an alert id)
// would still do if nobody acted, from now: the steps and their times, as
// its policy snapshot plans them (rosters resolved at each step's time).
// An escalation that has ended has nothing to come.
func (e *Engine) Upcoming(ctx context.Context, ref string) (*Plan, error) {
	id, err := e.Lookup(ctx, ref)
	if err != nil {
		return nil, err
	}
	tok, _, _ := strings.Cut(id, "-")
	esc, _, err := e.st.load(ctx, escKey(tok))
	if err != nil {
		return nil, err
	}
	now := e.clk.Now().UTC()
	if esc == nil || esc.ID != id {
		if _, err := e.Find(ctx, id); err != nil {
			return nil, err
		}
		return &Plan{ID: id, Status: "ended", From: now, Steps: []Planned{}}, nil
	}
	sum := summarize(esc)
	return &Plan{ID: id, Status: sum.Status, From: now, Steps: upcoming(esc, now)}, nil
}

// upcoming plans esc on from now, as the engine would run it if nobody
// acted and its alerts kept firing.
func upcoming(esc *Escalation, now time.Time) []Planned {
	p := esc.Policy
	out := []Planned{}
	if p == nil || esc.over() {
		return out
	}
	st := esc.State
	var dec policy.Decision
	switch {
	case esc.Quiet != nil:
		// At the quiet's end it starts from step 1.
		at := maxTime(esc.Quiet.Until, now)
		dec = policy.Plan(p, policy.State{}, policy.Input{Kind: policy.Start, At: at}, at)
		out = appendPlanned(out, "start", dec, at)
	case st.Status == policy.Acknowledged:
		// Its ack_timeout re-pages it from step 1.
		at := maxTime(st.NextAt, now)
		dec = policy.Plan(p, st, policy.Input{Kind: policy.Timer, At: st.NextAt}, at)
		out = appendPlanned(out, "repage", dec, at)
	default:
		if esc.Intent != nil && !esc.Intent.Started {
			// A step recorded and about to be placed: it comes first. (One
			// being placed is happening now: the timeline shows it.)
			out = append(out, planned("step", esc.Intent.Run, maxTime(st.StepStartedAt, now)))
		}
		dec = policy.Decision{State: st}
	}
	for len(out) < maxUpcoming && dec.State.Status == policy.Active && !dec.State.NextAt.IsZero() {
		at := maxTime(dec.State.NextAt, now)
		dec = policy.Plan(p, dec.State, policy.Input{Kind: policy.Timer, At: dec.State.NextAt}, at)
		out = appendPlanned(out, "step", dec, at)
	}
	return out
}

// appendPlanned adds what dec does at at: its skipped steps, its step, its
// end.
func appendPlanned(out []Planned, event string, dec policy.Decision, at time.Time) []Planned {
	for _, s := range dec.Skipped {
		out = append(out, Planned{At: at, Event: "skipped", Step: s.Step, Loop: s.Loop, Reason: s.Reason})
	}
	if dec.Run != nil {
		out = append(out, planned(event, *dec.Run, at))
	}
	if dec.State.Status == policy.Exhausted {
		out = append(out, Planned{At: at, Event: "exhausted", Step: dec.State.Step, Loop: dec.State.Loop})
	}
	return out
}

func planned(event string, run policy.StepRun, at time.Time) Planned {
	pl := Planned{At: at, Event: event, Step: run.Step, Loop: run.Loop, Strategy: run.Strategy, People: run.People}
	for _, v := range run.Via {
		pl.Via = append(pl.Via, v.Provider)
	}
	return pl
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
