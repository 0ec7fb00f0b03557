package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/consumer"
	"github.com/escalator-oss/escalator/internal/policy"
)

// stop applies an acknowledgement or a resolution to the alert's escalation.
// With grouping, the escalation is resolved when its last alert resolves.
func (e *Engine) stop(ctx context.Context, d consumer.Delivery, kind policy.InputKind) error {
	ev := d.Event
	index, _, err := e.st.read(ctx, alertKey(ev.ID))
	if err != nil {
		return fmt.Errorf("find escalation: %w", err)
	}
	if index == nil {
		e.log.Info("no escalation for this alert", zap.String("alert", ev.ID), zap.String("status", string(ev.Status)))
		return nil
	}
	key := string(index)
	now := e.clk.Now().UTC()
	stopped := false
	s, err := e.update(ctx, key, func(cur *Escalation) (*Escalation, error) {
		stopped = false
		if cur == nil || (!slices.Contains(cur.Alerts, ev.ID) && cur.AlertID != ev.ID) {
			return nil, nil
		}
		if kind == policy.Resolve && len(cur.Alerts) > 1 && slices.Contains(cur.Alerts, ev.ID) {
			// Other alerts of the group still fire: only this one leaves.
			cur.Alerts = remove(cur.Alerts, ev.ID)
			return cur, nil
		}
		if kind == policy.Resolve {
			cur.Alerts = remove(cur.Alerts, ev.ID)
		}
		next := end(cur, kind, ev.By, viaAlert, now)
		if next == nil {
			return nil, nil // finished already: nothing changes
		}
		stopped = true
		return next, nil
	})
	if err != nil {
		return err
	}
	if stopped {
		if err := e.rearm(ctx, s.esc); err != nil {
			return err
		}
		e.log.Info("escalation stopped", zap.String("escalation", s.esc.ID), zap.String("by", ev.By),
			zap.String("status", string(s.esc.State.Status)))
	}
	return e.flush(ctx, s)
}

// How an acknowledgement or a resolution came (outcome.Outcome.Via).
const (
	viaAlert  = "alert"
	viaAnswer = "answer"
	viaSMS    = "sms"
)

// end is the decision that acknowledges or resolves cur (by whom, via
// what), or nil when that changes nothing. A step recorded but not yet
// handed to a provider is dropped: nobody will be called for it. A step
// being placed keeps its intent until its result is recorded. A quiet
// escalation (silenced, in maintenance) is, to the plan, an active one
// whose steps wait: acknowledging or resolving it ends its quiet too.
func end(cur *Escalation, kind policy.InputKind, by, via string, now time.Time) *Escalation {
	st := cur.State
	if cur.Quiet != nil {
		// A new one has no state yet; one quietened when its ack_timeout
		// passed is still acknowledged, by the ack that timed out.
		st.Status, st.NextAt = policy.Active, time.Time{}
		if st.StartedAt.IsZero() {
			st.StartedAt = cur.CreatedAt
		}
	}
	dec := policy.Plan(cur.Policy, st, policy.Input{Kind: kind, At: now, By: by, Via: via}, now)
	if len(dec.Events) == 0 {
		return nil
	}
	cur.Quiet = nil
	cur.apply(dec, now)
	if cur.Intent != nil && !cur.Intent.Started {
		cur.Intent = nil
	}
	return cur
}
