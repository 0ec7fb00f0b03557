package engine

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/consumer"
	"github.com/escalator-oss/escalator/internal/policy"
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
	s, err := e.update(ctx, key, func(cur *Escalation) (*Escalation, error) {
		if cur == nil || cur.ID != msg.ID {
			return nil, errGone
		}
		return afterWait(cur, msg, now), nil
	})
	if errors.Is(err, errGone) {
		return nil
	}
	if err != nil {
		return err
	}
	esc := s.esc
	switch {
	case esc.Intent != nil && !esc.State.Finished():
		// The step's publisher publishes the outbox before its reports.
		return e.runIntent(ctx, key, esc.ID)
	case esc.State.Status == policy.Active:
		// Set the timer for the wait now running. It may be set already:
		// this wake-up may be early (clocks differ), stale, a duplicate, or
		// the redelivery of one whose handler stopped after saving and
		// before setting it. Setting it again replaces it.
		if err := e.schedule(ctx, esc); err != nil {
			return err
		}
	}
	return e.flush(ctx, s)
}

// afterWait is the decision of a wake-up: when a wait has ended, the plan's next
// step (or the end); anything else changes nothing.
func afterWait(cur *Escalation, msg wake, now time.Time) *Escalation {
	if cur.Intent != nil || cur.State.Finished() || msg.Kind != wakeTimer || now.Before(msg.At) {
		return nil
	}
	dec := policy.Plan(cur.Policy, cur.State, policy.Input{Kind: policy.Timer, At: msg.At}, now)
	if dec.Run == nil && len(dec.Events) == 0 && len(dec.Skipped) == 0 {
		return nil // stale or duplicate
	}
	cur.apply(dec, now)
	return cur
}
