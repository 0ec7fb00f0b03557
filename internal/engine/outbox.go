package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/outcome"
)

// Outcomes leave through an outbox. A transition appends its outcomes to the
// escalation's record (emit) and saves them with its new state; flush then
// publishes them, in order, each with a message id that makes it stored
// once however often it is published, and removes them from the record. A
// worker that dies in between leaves them in the record, and whoever
// handles the escalation next (the redelivered message, at the latest)
// publishes them. So an outcome is never lost between saving a transition
// and publishing it, and the order per escalation is the order of the
// transitions.
//
// A step's dispatch reports happen while calls are being placed, and
// placing calls never waits on NATS: they go to a publisher of their own
// (stepReports), and what it has not published when the calls are placed
// goes into the outbox with the step's result.

// Publishing pace.
const (
	// publishTimeout bounds one publish attempt.
	publishTimeout = 5 * time.Second
	// publishFirstRetry and publishMaxRetry shape the backoff between attempts.
	publishFirstRetry = 100 * time.Millisecond
	publishMaxRetry   = 5 * time.Second
)

// Pending is an outcome in an escalation's outbox, with the message id that
// makes it stored once.
type Pending struct {
	MsgID   string          `json:"msg_id"`
	Outcome outcome.Outcome `json:"outcome"`
}

// newOutcome is the one constructor of outcome events: the escalation's
// identity, the event, the step and loop it belongs to, and when it
// happened. Callers add what the event says beyond that.
func newOutcome(esc *Escalation, event string, step, loop int, at time.Time) outcome.Outcome {
	o := outcome.Outcome{EscalationID: esc.ID, ShortCode: ShortCode(esc.ID), AlertID: esc.AlertID, Event: event, Step: step,
		Loop: loop, At: at.UTC()}
	if esc.Policy != nil { // always set by the engine; a damaged record still reports
		o.Policy = esc.Policy.Name
	}
	return o
}

// msgID is an outcome's message id: the same event of the same step (and
// of the same attempt, for dispatch reports) in the same round of the
// escalation always has the same id. A round is a restart from step 1
// (after a silence, or a re-page of an acknowledged escalation): its
// outcomes are new ones.
func (esc *Escalation) msgID(event string, step, loop int, extra ...string) string {
	id := esc.ID + "/" + event + "/" + strconv.Itoa(step) + "/" + strconv.Itoa(loop)
	for _, x := range extra {
		id += "/" + x
	}
	if esc.Round > 0 {
		id += "/r" + strconv.Itoa(esc.Round)
	}
	return id
}

// emit appends o to esc's outbox, to be published once esc is saved.
func (esc *Escalation) emit(o outcome.Outcome, msgID string) {
	esc.Outbox = append(esc.Outbox, Pending{MsgID: msgID, Outcome: o})
}

// publishOnce makes one attempt at storing p in the outcome stream. It
// reports whether the stream already had it (a duplicate message id).
func (e *Engine) publishOnce(ctx context.Context, p Pending) (dup bool, err error) {
	data, err := json.Marshal(p.Outcome)
	if err != nil {
		return false, err
	}
	pctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	ack, err := e.js.PublishMsg(pctx, &nats.Msg{Subject: natsx.OutcomeSubject(p.Outcome.EscalationID, p.Outcome.Event), Data: data},
		jetstream.WithMsgID(p.MsgID))
	if err != nil {
		return false, err
	}
	if !ack.Duplicate {
		e.m.outcomes.WithLabelValues(p.Outcome.Event).Inc()
		if p.Outcome.Event == outcome.Exhausted {
			e.m.exhausted.Inc()
		}
	}
	return ack.Duplicate, nil
}

// publish stores p, retrying with backoff while NATS is away, for at most
// PublishRetryFor or until ctx ends.
func (e *Engine) publish(ctx context.Context, p Pending) error {
	b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(publishFirstRetry), backoff.WithMaxInterval(publishMaxRetry),
		backoff.WithMaxElapsedTime(e.cfg.PublishRetryFor))
	notify := func(err error, d time.Duration) {
		e.log.Warn("publish outcome: retrying", zap.String("escalation", p.Outcome.EscalationID),
			zap.String("event", p.Outcome.Event), zap.Error(err), zap.Duration("in", d))
	}
	op := func() error { _, err := e.publishOnce(ctx, p); return err }
	if err := backoff.RetryNotify(op, backoff.WithContext(b, ctx), notify); err != nil {
		return fmt.Errorf("publish outcome %s: %w", natsx.OutcomeSubject(p.Outcome.EscalationID, p.Outcome.Event), err)
	}
	return nil
}

// flush publishes the outbox of s, in order, and removes what it published
// from the record. An error leaves the rest in the record for the next
// handler of the escalation (the caller's message is redelivered).
func (e *Engine) flush(ctx context.Context, s saved) error {
	if s.esc == nil || len(s.esc.Outbox) == 0 {
		return nil
	}
	done := make(map[string]bool, len(s.esc.Outbox))
	for _, p := range s.esc.Outbox {
		if err := e.publish(ctx, p); err != nil {
			e.forget(ctx, s.esc, done)
			return err
		}
		done[p.MsgID] = true
	}
	return e.forget(ctx, s.esc, done)
}

// forget removes the outcomes in published from esc's outbox.
func (e *Engine) forget(ctx context.Context, esc *Escalation, published map[string]bool) error {
	if len(published) == 0 {
		return nil
	}
	_, err := e.update(ctx, esc.Key, func(cur *Escalation) (*Escalation, error) {
		if cur == nil || cur.ID != esc.ID {
			return nil, nil
		}
		kept := cur.Outbox[:0:0]
		for _, p := range cur.Outbox {
			if !published[p.MsgID] {
				kept = append(kept, p)
			}
		}
		if len(kept) == len(cur.Outbox) {
			return nil, nil
		}
		cur.Outbox = kept
		return cur, nil
	})
	if err != nil {
		return fmt.Errorf("clear published outcomes: %w", err)
	}
	return nil
}

// publishNow publishes an outcome that belongs to no record (an unmatched
// alert's), retrying as publish does.
func (e *Engine) publishNow(ctx context.Context, o outcome.Outcome, msgID string) error {
	return e.publish(ctx, Pending{MsgID: msgID, Outcome: o})
}
