package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/consumer"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

// fire starts an escalation for a firing alert, or joins the active one of
// its group.
func (e *Engine) fire(ctx context.Context, d consumer.Delivery) error {
	ev := d.Event
	set := e.cfg.Policies()
	var p *policy.Policy
	if set != nil {
		p, _ = set.MatchAt(ev, e.clk.Now())
	}
	if p == nil {
		e.m.unmatched.Inc()
		e.log.Warn("alert matches no policy", zap.String("alert", ev.ID))
		o := outcome.Outcome{EscalationID: "unmatched", AlertID: ev.ID, Event: outcome.Unmatched, Summary: ev.Summary,
			Reason: "no policy matches this alert", At: e.clk.Now().UTC()}
		return e.publishNow(ctx, o, fmt.Sprintf("unmatched/%d", d.StreamSeq))
	}
	tok := hash(p.Name, groupKey(p, ev.ID, ev.Labels))
	key := escKey(tok)
	// The index from alert id to escalation, for acks and resolves that
	// carry only the id.
	if _, err := e.st.kv.Put(ctx, alertKey(ev.ID), []byte(key)); err != nil {
		return fmt.Errorf("index alert: %w", err)
	}
	id := fmt.Sprintf("%s-%d", tok, d.StreamSeq)
	now := e.clk.Now().UTC()
	quiet := e.quietFor(p, ev, now)
	how := howNothing
	// A new escalation's first step is claimed with the record and placed
	// by this worker at once, when it has a slot free (placeNow).
	slot := e.takeSlot()
	if slot {
		// Known as being placed by this worker before the claim is saved:
		// a wake-up of the escalation meanwhile is busy, not in doubt.
		if _, busy := e.placing.LoadOrStore(key, struct{}{}); busy {
			e.freeSlot()
			slot = false
		}
	}
	claimed := false
	// Most alerts of a new group find no record: try creating it first.
	s, err := e.updateFrom(ctx, key, true, func(cur *Escalation) (*Escalation, error) {
		var next *Escalation
		next, how = join(cur, p, ev, id, key, now, d.Stored, quiet)
		claimed = false
		if how == howStarted && slot && next.Intent != nil && next.Intent.Run.Strategy != provider.RoundRobin {
			e.claim(next.Intent, now)
			claimed = true
		}
		return next, nil
	})
	if slot && (err != nil || !claimed) {
		e.placing.Delete(key)
		e.freeSlot()
	}
	if err != nil {
		return err
	}
	esc := s.esc
	started, joined := how == howStarted, how == howJoined
	switch {
	case how == howSilenced:
		e.m.silenced.WithLabelValues(quiet.kind()).Inc()
		e.log.Info("alert silenced", zap.String("escalation", esc.ID), zap.String("policy", p.Name), zap.String("alert", ev.ID),
			zap.String("why", quiet.reason()))
	case started:
		e.m.started.Inc()
		e.log.Info("escalation started", zap.String("escalation", esc.ID), zap.String("policy", p.Name), zap.String("alert", ev.ID))
	case joined:
		e.m.grouped.Inc()
	}
	switch {
	case esc.over():
	case claimed:
		return e.placeNow(ctx, key, s)
	case esc.Intent != nil && !esc.Intent.Started:
		// Hand on a recorded step nobody has started (this event may be
		// the redelivery of one whose worker stopped before handing it
		// on). The step's publisher publishes the outbox ("started")
		// before its own outcomes: handing it on does not wait for that.
		return e.runNow(ctx, esc)
	case esc.Intent != nil:
		// A step is being placed: its result is saved with the outbox
		// and published after it. A redelivery may be of the alert whose
		// worker claimed the first step and stopped before setting its
		// wake-up (placeNow): set it again.
		if d.NumDelivered > 1 {
			return e.scheduleRun(ctx, esc)
		}
		return nil
	case !joined:
		// Make sure an active escalation's timer is set: a worker may
		// have died between saving it and setting it (setting it again
		// replaces it).
		if err := e.schedule(ctx, esc); err != nil {
			return err
		}
	}
	return e.flush(ctx, s)
}

// How join changed the record.
const (
	howNothing = iota
	howStarted
	howJoined
	howSilenced
)

// join is fire's decision: a new escalation (id) for the alert, or the
// alert joining the active or acknowledged one of its group (the
// acknowledgement holds for the group's later alerts), or nothing when the
// alert is already part of it or this very event started it.
func join(cur *Escalation, p *policy.Policy, ev alert.Event, id, key string, now, stored time.Time, quiet *Quiet) (*Escalation, int) {
	if cur != nil && (cur.State.Status == policy.Active || cur.State.Status == policy.Acknowledged || cur.Quiet != nil && !cur.State.Finished()) {
		if slices.Contains(cur.Alerts, ev.ID) {
			return nil, howNothing // a redelivery, or a sender repeating a firing alert
		}
		cur.Alerts = append(cur.Alerts, ev.ID)
		cur.Grouped++
		o := newOutcome(cur, outcome.Grouped, cur.State.Step, cur.State.Loop, now)
		o.Alerts, o.Summary = len(cur.Alerts), ev.Summary
		cur.emit(o, cur.msgID(outcome.Grouped, 0, 0, ev.ID))
		return cur, howJoined
	}
	if cur != nil && cur.ID == id {
		return nil, howNothing // this very alert started it, and it has finished
	}
	snapshot := *p
	esc := &Escalation{
		ID: id, Key: key, Policy: &snapshot, GroupKey: groupKey(p, ev.ID, ev.Labels),
		AlertID: ev.ID, Alerts: []string{ev.ID}, Summary: ev.Summary, Severity: ev.Severity, Labels: ev.Labels,
		CreatedAt: now, AlertAt: stored,
	}
	if quiet != nil {
		// Silenced or in maintenance: no step now; it starts when the
		// quiet ends, if its alert still fires then.
		esc.quieten(quiet, now)
		return esc, howSilenced
	}
	esc.apply(policy.Plan(esc.Policy, policy.State{}, policy.Input{Kind: policy.Start, At: now}, now), now)
	return esc, howStarted
}

// placeNow places the first step of the new escalation s, which fire has
// claimed with its record (holding its slot and its key in placing), on a
// goroutine of its own, so that the alert is
// acknowledged at once. The step's wake-up is set first, for when its
// lease runs out (scheduleRun): if this worker dies before recording the
// result, any worker places the step again then, in doubt; once the result
// is recorded, the step's wait replaces it. So a first step costs no round
// trip through the wake-up stream.
func (e *Engine) placeNow(ctx context.Context, key string, s saved) error {
	if err := e.scheduleRun(ctx, s.esc); err != nil {
		e.placing.Delete(key)
		e.freeSlot()
		return err // the redelivered alert sets it
	}
	e.placements.Add(1)
	go func() {
		defer e.placements.Done()
		defer e.freeSlot()
		defer e.placing.Delete(key)
		if err := e.place(e.bg, key, s, false); err != nil {
			e.log.Warn("first step not recorded: its wake-up places it again once the lease runs out",
				zap.String("escalation", s.esc.ID), zap.Error(err))
		}
	}()
	return nil
}

// takeSlot takes one of the slots for first steps placed at once, if one
// is free; freeSlot gives it back.
func (e *Engine) takeSlot() bool {
	select {
	case e.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (e *Engine) freeSlot() { <-e.slots }
