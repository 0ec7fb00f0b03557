package engine

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/consumer"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

// errGone stops a decision whose escalation is gone or was replaced by a
// newer one of its group: nothing is left to do.
var errGone = errors.New("escalation gone or replaced")

// HandleWakeup implements consumer.WakeupHandler: it places a recorded step,
// or moves an escalation on when its wait has ended.
func (e *Engine) HandleWakeup(ctx context.Context, w consumer.Wakeup) error {
	var msg wake
	if err := json.Unmarshal(w.Data, &msg); err != nil {
		e.log.Error("malformed wake-up dropped", zap.String("subject", w.Subject), zap.Error(err))
		return nil
	}
	key := escKey(w.Key)
	now := e.clk.Now().UTC()
	repaged := false
	// The step a wait's end brings is claimed in the same write, by this
	// worker, which places it now (as runIntent would, after a write of
	// its own): unless this worker is placing a step of the escalation
	// already, or the step is a round robin's (its pick comes first).
	_, busy := e.placing.LoadOrStore(key, struct{}{})
	claimed := false
	s, err := e.update(ctx, key, func(cur *Escalation) (*Escalation, error) {
		claimed = false
		if cur == nil || cur.ID != msg.ID {
			return nil, errGone
		}
		var next *Escalation
		next, repaged = e.afterWait(cur, msg, now)
		if !busy && next != nil && next.Intent != nil && !next.Intent.Started && !next.State.Finished() &&
			next.Intent.Run.Strategy != provider.RoundRobin {
			e.claim(next.Intent, now)
			claimed = true
		}
		return next, nil
	})
	if !busy && (err != nil || !claimed) {
		e.placing.Delete(key)
	}
	if errors.Is(err, errGone) {
		return nil
	}
	if err != nil {
		return err
	}
	esc := s.esc
	if s.changed && repaged {
		e.m.repages.Inc()
		e.log.Info("acknowledged escalation paged again: its ack_timeout passed with the alert still firing",
			zap.String("escalation", esc.ID), zap.Int("round", esc.Round))
	}
	if claimed {
		defer e.placing.Delete(key)
		return e.place(ctx, key, s, false)
	}
	if esc.Intent != nil && !esc.State.Finished() {
		// The step's publisher publishes the outbox before its reports.
		return e.runIntent(ctx, key, esc.ID)
	}
	// Set the timer for the wait now running (a step's, a silence's, an
	// acknowledgement's ack_timeout). It may be set already: this wake-up
	// may be early (clocks differ), stale, a duplicate, or the redelivery
	// of one whose handler stopped after saving and before setting it.
	// Setting it again replaces it.
	if err := e.schedule(ctx, esc); err != nil {
		return err
	}
	return e.flush(ctx, s)
}

// afterWait is the decision of a wake-up: when a wait has ended, the plan's
// next step (or the end), unless a silence or maintenance window now
// covers the escalation, which then waits quiet; when a quiet has ended, a
// new start; when an acknowledgement's ack_timeout has passed, a new round
// from step 1 (repaged). Anything else changes nothing.
func (e *Engine) afterWait(cur *Escalation, msg wake, now time.Time) (next *Escalation, repaged bool) {
	if cur.Intent != nil || cur.over() || msg.Kind != wakeTimer || now.Before(msg.At) {
		return nil, false
	}
	if cur.Quiet != nil {
		return e.afterQuiet(cur, now), false
	}
	if cur.State.Status == policy.Acknowledged && len(cur.Alerts) == 0 {
		// Defensive: its last alert's resolution resolved it already.
		return end(cur, policy.Resolve, "", viaAlert, now), false
	}
	dec := policy.Plan(cur.Policy, cur.State, policy.Input{Kind: policy.Timer, At: msg.At}, now)
	if dec.Run == nil && len(dec.Events) == 0 && len(dec.Skipped) == 0 {
		return nil, false // stale or duplicate
	}
	if dec.Run != nil {
		if q := e.quietFor(cur.Policy, cur.event(), now); q != nil {
			cur.quieten(q, now)
			return cur, false
		}
	}
	if cur.State.Status == policy.Acknowledged && dec.State.Status == policy.Active {
		// The acknowledgement's ack_timeout passed with the alert still
		// firing: a new round, whose outcomes are new ones.
		cur.Round++
		repaged = true
	}
	cur.apply(dec, now)
	return cur, repaged
}
