package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/policy"
)

// The kinds of wake-up.
const (
	// wakePlace asks a worker (any) to place an escalation's recorded step now.
	wakePlace = "run"
	// wakeTimer says a step's wait has ended.
	wakeTimer = "timer"
)

// wake is the body of a due message.
type wake struct {
	// Kind is wakePlace or wakeTimer.
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// At is the wake-up time the timer was set for.
	At time.Time `json:"at,omitempty"`
}

// token is the escalation key's subject token (the key without "e.").
func token(key string) string { return key[2:] }

// runNow asks a worker (any) to place the recorded step of esc now. The
// message id makes a repeated request stored once.
func (e *Engine) runNow(ctx context.Context, esc *Escalation) error {
	data, _ := json.Marshal(wake{Kind: wakePlace, ID: esc.ID})
	run := esc.Intent.Run
	msgID := fmt.Sprintf("%s/run/%d/%d/%d/%d", esc.ID, run.Step, run.Loop, esc.Intent.Redone, esc.Round)
	_, err := e.js.PublishMsg(ctx, &nats.Msg{Subject: natsx.DueSubject(token(esc.Key)), Data: data},
		jetstream.WithMsgID(msgID))
	if err != nil {
		return fmt.Errorf("request step run: %w", err)
	}
	return nil
}

// schedulePrecision is the precision of JetStream message schedules.
const schedulePrecision = time.Second

// schedule sets the escalation's one durable timer for its NextAt, replacing
// any earlier one: a JetStream message schedule on escalator.timer.<key>
// that the server publishes to escalator.due.<key> at that time. Schedules
// have whole-second precision, so the time is rounded up (never early).
func (e *Engine) schedule(ctx context.Context, esc *Escalation) error {
	at := esc.wakeAt()
	if at.IsZero() {
		return nil
	}
	return e.scheduleWake(ctx, esc, wake{Kind: wakeTimer, ID: esc.ID, At: at})
}

// scheduleRun sets the escalation's timer to place its claimed step when
// the claim's lease runs out (a step placed meanwhile has its wait's
// timer set instead, replacing it).
func (e *Engine) scheduleRun(ctx context.Context, esc *Escalation) error {
	return e.scheduleWake(ctx, esc, wake{Kind: wakePlace, ID: esc.ID, At: esc.Intent.LeaseUntil})
}

// scheduleWake sets the escalation's timer to deliver w at w.At.
func (e *Engine) scheduleWake(ctx context.Context, esc *Escalation, w wake) error {
	at := w.At
	data, _ := json.Marshal(w)
	fire := at.Truncate(schedulePrecision)
	if fire.Before(at) {
		fire = fire.Add(schedulePrecision)
	}
	tok := token(esc.Key)
	msg := &nats.Msg{Subject: natsx.TimerSubject(tok), Data: data, Header: nats.Header{}}
	if !fire.After(e.clk.Now().Add(schedulePrecision)) {
		// Due already (or within the schedule's precision): wake now.
		msg.Subject = natsx.DueSubject(tok)
	} else {
		msg.Header.Set("Nats-Schedule", "@at "+fire.UTC().Format(time.RFC3339))
		msg.Header.Set("Nats-Schedule-Target", natsx.DueSubject(tok))
	}
	if _, err := e.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("schedule wake-up: %w", err)
	}
	return nil
}

// wakeAt is when esc next needs a worker: the end of its quiet, of its
// step's wait, or of its acknowledgement's ack_timeout; zero when never.
func (esc *Escalation) wakeAt() time.Time {
	switch {
	case esc.Quiet != nil:
		return esc.Quiet.Until
	case esc.State.Status == policy.Active, esc.State.Status == policy.Acknowledged:
		return esc.State.NextAt // zero for an acknowledgement without ack_timeout
	}
	return time.Time{}
}

// over says whether esc is done with: finished, and no wake-up to come (a
// quiet, an ack_timeout).
func (esc *Escalation) over() bool { return esc.State.Finished() && esc.wakeAt().IsZero() }

// rearm sets esc's timer for its next wake-up, or removes it when it has
// none: after an acknowledgement (an ack_timeout is a wake-up) or a
// resolution.
func (e *Engine) rearm(ctx context.Context, esc *Escalation) error {
	if esc.wakeAt().IsZero() {
		e.cancel(ctx, esc.Key)
		return nil
	}
	return e.schedule(ctx, esc)
}

// cancel removes the escalation's pending timer. A timer that fires anyway
// finds the escalation finished and does nothing.
func (e *Engine) cancel(ctx context.Context, key string) {
	if e.timers == nil {
		return
	}
	_ = e.timers.Purge(ctx, jetstream.WithPurgeSubject(natsx.TimerSubject(token(key))))
}
