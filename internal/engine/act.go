package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/nats-io/nats.go/jetstream"
)

// What a person may do to an escalation through the API (Act).
const (
	// ActAck acknowledges it: its further steps stop.
	ActAck = "ack"
	// ActResolve ends it and stops its calls, whatever its alerts' senders
	// say (a later firing event of its alerts starts a new escalation).
	ActResolve = "resolve"
	// ActEscalate runs its next step now (an acknowledged or silenced one
	// too: whoever had it hands it on).
	ActEscalate = "escalate"
)

// viaAPI is an action's Via: a person through the API (the CLI, the console).
const viaAPI = "api"

// Action is a person's act on an escalation.
type Action struct {
	Kind    string
	By      string
	Comment string
}

// ConflictError is Act's error when the escalation cannot take the action
// in its state: ended, already acknowledged, or a step being placed.
type ConflictError struct {
	// Status is the escalation's status (or "placing").
	Status policy.Status
	Why    string
}

func (e *ConflictError) Error() string { return e.Why }

// statusPlacing is a ConflictError's status while a step's calls are being
// placed.
const statusPlacing policy.Status = "placing"

// Act applies a person's action to escalation id and returns its summary
// after it: ErrNotFound for an id that has neither a record nor a timeline,
// a *ConflictError when its state forbids the action.
func (e *Engine) Act(ctx context.Context, id string, a Action) (*Summary, error) {
	switch a.Kind {
	case ActAck, ActResolve, ActEscalate:
	default:
		return nil, fmt.Errorf("unknown action %q", a.Kind)
	}
	tok, _, ok := strings.Cut(id, "-")
	if !ok || len(tok) != tokenLen {
		return nil, ErrNotFound
	}
	key := escKey(tok)
	s, conflict, err := e.actWaiting(ctx, key, id, a)
	if errors.Is(err, errGone) {
		// Replaced by a newer escalation of its group, or swept: ended, if
		// it ever was.
		if d, ferr := e.Find(ctx, id); ferr == nil && d != nil {
			return nil, &ConflictError{Status: "ended", Why: fmt.Sprintf("escalation %s has ended", id)}
		}
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if conflict != nil {
		return nil, conflict
	}
	esc := s.esc
	e.log.Info("escalation acted on through the API", zap.String("escalation", esc.ID), zap.String("action", a.Kind),
		zap.String("by", a.By), zap.String("status", string(esc.State.Status)))
	if esc.Intent != nil && !esc.Intent.Started {
		// Escalated: hand on the step now (the outbox, "escalated" first,
		// is published before its own outcomes).
		if err := e.runNow(ctx, esc); err != nil {
			return nil, err
		}
	} else if err := e.rearm(ctx, esc); err != nil {
		return nil, err
	}
	if err := e.flush(ctx, s); err != nil {
		return nil, err
	}
	sum := summarize(esc)
	return &sum, nil
}

// placingWait bounds how long Act waits for a step being placed to be
// recorded before it answers that the step is being placed.
const placingWait = 10 * time.Second

// actWaiting applies act to the escalation under key; while a step's calls
// are being placed (a moment: their result is about to be recorded), it
// waits for the record to change and tries again, for up to placingWait.
func (e *Engine) actWaiting(ctx context.Context, key, id string, a Action) (saved, *ConflictError, error) {
	var watch jetstream.KeyWatcher
	defer func() {
		if watch != nil {
			_ = watch.Stop()
		}
	}()
	deadline := time.After(placingWait)
	for {
		var conflict *ConflictError
		now := e.clk.Now().UTC()
		s, err := e.update(ctx, key, func(cur *Escalation) (*Escalation, error) {
			conflict = nil
			if cur == nil || cur.ID != id {
				return nil, errGone
			}
			next, c := act(cur, a, now)
			conflict = c
			return next, nil
		})
		if err != nil || conflict == nil || conflict.Status != statusPlacing {
			return s, conflict, err
		}
		if watch == nil {
			// Watch from now, then look again at once: a change between
			// the look and the watch's start is not missed.
			w, werr := e.st.kv.Watch(ctx, key, jetstream.UpdatesOnly())
			if werr != nil {
				return s, conflict, nil
			}
			watch = w
			continue
		}
		select {
		case <-watch.Updates():
		case <-deadline:
			return s, conflict, nil
		case <-ctx.Done():
			return s, conflict, nil
		}
	}
}

// act is Act's decision: cur changed, or a conflict that says why not.
func act(cur *Escalation, a Action, now time.Time) (*Escalation, *ConflictError) {
	st := cur.State.Status
	quiet := cur.Quiet != nil
	switch {
	case st == policy.Resolved || st == policy.Exhausted:
		return nil, &ConflictError{Status: st, Why: fmt.Sprintf("escalation %s has ended: %s", cur.ID, st)}
	case cur.Intent != nil && cur.Intent.Started && a.Kind == ActEscalate:
		return nil, &ConflictError{Status: statusPlacing,
			Why: fmt.Sprintf("escalation %s is placing its step %d's calls right now; escalate again once they are placed", cur.ID, cur.State.Step+1)}
	}
	mark := len(cur.Outbox)
	switch a.Kind {
	case ActAck:
		if st == policy.Acknowledged && !quiet {
			return nil, &ConflictError{Status: st, Why: fmt.Sprintf("escalation %s is already acknowledged, by %s", cur.ID, orSomebody(cur.State.By))}
		}
		if end(cur, policy.Ack, a.By, viaAPI, now) == nil {
			return nil, &ConflictError{Status: st, Why: fmt.Sprintf("escalation %s cannot be acknowledged now (%s)", cur.ID, st)}
		}
	case ActResolve:
		// Every alert leaves with it: the person says it is over.
		cur.Alerts = nil
		if st == policy.Acknowledged && !quiet {
			// Plan resolves an acknowledged escalation; By stays the
			// acknowledger's unless the resolver is named.
			cur.State.By = orDefault(a.By, cur.State.By)
		}
		if end(cur, policy.Resolve, a.By, viaAPI, now) == nil {
			return nil, &ConflictError{Status: st, Why: fmt.Sprintf("escalation %s cannot be resolved now (%s)", cur.ID, st)}
		}
	case ActEscalate:
		escalate(cur, a, now)
	}
	for i := mark; i < len(cur.Outbox); i++ {
		o := &cur.Outbox[i].Outcome
		if o.Event == outcome.Acknowledged || o.Event == outcome.Resolved || o.Event == outcome.Escalated {
			o.By, o.Via, o.Comment = orDefault(a.By, o.By), viaAPI, a.Comment
		}
	}
	return cur, nil
}

// escalate runs cur's next step now: the one after its current step (or,
// never started because silenced from its first alert, its first), whether
// it was waiting, acknowledged or quiet.
func escalate(cur *Escalation, a Action, now time.Time) {
	o := newOutcome(cur, outcome.Escalated, cur.State.Step, cur.State.Loop, now)
	o.By, o.Via, o.Comment, o.Summary = a.By, viaAPI, a.Comment, cur.Summary
	// A new round: the step may run again in this escalation's life, and
	// its outcomes are new ones.
	cur.Round++
	cur.emit(o, cur.msgID(outcome.Escalated, cur.State.Step, cur.State.Loop))
	cur.Quiet = nil
	if cur.Intent != nil && !cur.Intent.Started {
		cur.Intent = nil
	}
	if cur.State.Status == "" {
		cur.apply(policy.Plan(cur.Policy, policy.State{}, policy.Input{Kind: policy.Start, At: now}, now), now)
		return
	}
	st := cur.State
	st.Status, st.NextAt, st.EndedAt, st.By, st.Via = policy.Active, now, time.Time{}, "", ""
	cur.apply(policy.Plan(cur.Policy, st, policy.Input{Kind: policy.Timer, At: now}, now), now)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orSomebody(s string) string { return orDefault(s, "somebody") }
