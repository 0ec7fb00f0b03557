package heartbeat

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/natsx"
)

// due is the body of a deadline message: the monitor and the deadline it
// was set for.
type due struct {
	Name string    `json:"name"`
	At   time.Time `json:"at"`
}

// schedulePrecision is the precision of JetStream message schedules.
const schedulePrecision = time.Second

// arm sets the monitor's one durable deadline, replacing any earlier one: a
// message schedule on escalator.heartbeat.timer.<token> that the server
// publishes to escalator.heartbeat.due.<token> at that time (whole seconds,
// rounded up: never early). A deadline within a second of now is published
// straight to the due subject. Setting the same deadline again is harmless.
func (r *Runtime) arm(ctx context.Context, name string, at time.Time) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	data, _ := json.Marshal(due{Name: name, At: at.UTC()})
	fire := at.Truncate(schedulePrecision)
	if fire.Before(at) {
		fire = fire.Add(schedulePrecision)
	}
	tok := key(name)
	msg := &nats.Msg{Subject: natsx.HeartbeatTimerSubject(tok), Data: data, Header: nats.Header{}}
	if !fire.After(r.clk.Now().Add(schedulePrecision)) {
		msg.Subject = natsx.HeartbeatDueSubject(tok)
	} else {
		msg.Header.Set("Nats-Schedule", "@at "+fire.UTC().Format(time.RFC3339))
		msg.Header.Set("Nats-Schedule-Target", natsx.HeartbeatDueSubject(tok))
	}
	if _, err := r.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("set heartbeat deadline %s: %w", name, err)
	}
	return nil
}

// RunDeadlines handles the monitors' deadlines as they fire, until ctx
// ends; see pull for how it stops.
func (r *Runtime) RunDeadlines(ctx context.Context) error {
	return r.pull(ctx, natsx.StreamHeartbeatTimers, natsx.ConsumerHeartbeatDue, "heartbeat deadlines", r.handleDue)
}

// handleDue handles one deadline that fired. It is idempotent, and does
// nothing wrong for a deadline that fires late, twice, after a ping moved
// it, or for a monitor that is gone:
//   - no such monitor in force (removed by a reload): nothing; its state
//     and any firing alert are left as they are;
//   - the monitor's alert is firing already: nothing but publishing what its
//     outbox holds (a redelivery after a crash);
//   - not the monitor's current deadline (a ping or a reload moved it): the
//     current one is set again, in case its schedule was lost;
//   - early (clocks differ): handed back until the deadline;
//   - a ping stored before the deadline and not applied yet: nothing, the
//     ping's handling moves the deadline;
//   - otherwise the miss is recorded with compare-and-set, one worker wins,
//     and the firing alert is stored under a message id naming the deadline.
func (r *Runtime) handleDue(ctx context.Context, msg jetstream.Msg) error {
	return r.fired(ctx, msg.Data())
}

// fired is handleDue for a deadline message's body.
func (r *Runtime) fired(ctx context.Context, data []byte) error {
	var d due
	if err := json.Unmarshal(data, &d); err != nil || d.Name == "" {
		r.log.Error("malformed heartbeat deadline dropped", zap.ByteString("data", data))
		return nil
	}
	log := r.log.With(zap.String("heartbeat", d.Name), zap.Time("deadline", d.At))
	h := r.monitor(d.Name)
	if h == nil {
		log.Info("deadline of a monitor no longer in force: nothing to do")
		return nil
	}
	k := key(d.Name)
	cur, _, err := r.st.load(ctx, k)
	if err != nil {
		return err
	}
	switch {
	case cur == nil:
		// Loading the monitor creates its state and sets its deadline.
		return nil
	case cur.firing():
		return r.flush(ctx, k, cur)
	case !cur.deadline(h.Every).Equal(d.At):
		if err := r.flush(ctx, k, cur); err != nil {
			return err
		}
		return r.arm(ctx, d.Name, cur.deadline(h.Every))
	}
	if now := r.clk.Now(); now.Before(d.At) {
		return &retryLater{d: d.At.Sub(now), why: "deadline not reached yet"}
	}
	if p, err := r.firstUnapplied(ctx, d.Name, cur.PingSeq); err != nil {
		return err
	} else if p != nil && !p.Time.After(d.At) {
		log.Debug("a ping stored before the deadline is still to be applied: not missed")
		return nil
	}
	rec, won, err := r.update(ctx, k, func(cur *record) *record {
		if cur == nil || cur.firing() || !cur.deadline(h.Every).Equal(d.At) {
			return nil // decided meanwhile, by a ping or another worker
		}
		cur.Outbox = append(cur.Outbox, firing(h, cur, d.At))
		cur.Missed = d.At
		return cur
	})
	if err != nil {
		return err
	}
	if won {
		r.m.missed.WithLabelValues(d.Name).Inc()
		log.Warn("heartbeat missed: raising its alert", zap.String("alert", AlertID(d.Name)), zap.Duration("every", h.Every))
	}
	if rec == nil {
		return nil
	}
	if !rec.firing() {
		// A ping moved the deadline meanwhile: make sure the new one is set.
		return r.arm(ctx, d.Name, rec.deadline(h.Every))
	}
	return r.flush(ctx, k, rec)
}

// flush stores the alert events of rec's outbox in ALERTS, in order, each
// under its message id, then removes them from the state. A failure leaves
// them for the next handling (the message is redelivered).
func (r *Runtime) flush(ctx context.Context, k string, rec *record) error {
	if rec == nil || len(rec.Outbox) == 0 {
		return nil
	}
	sent := map[string]bool{}
	for _, p := range rec.Outbox {
		msg := &nats.Msg{Subject: natsx.SubjectAlertsHeartbeat, Data: p.Event}
		pctx, cancel := withTimeout(ctx)
		_, err := r.js.PublishMsg(pctx, msg, jetstream.WithMsgID(p.MsgID))
		cancel()
		if err != nil {
			return fmt.Errorf("store heartbeat alert %s: %w", p.MsgID, err)
		}
		sent[p.MsgID] = true
		r.log.Info("heartbeat alert stored", zap.String("msg_id", p.MsgID))
	}
	_, _, err := r.update(ctx, k, func(cur *record) *record {
		if cur == nil {
			return nil
		}
		kept := cur.Outbox[:0]
		for _, p := range cur.Outbox {
			if !sent[p.MsgID] {
				kept = append(kept, p)
			}
		}
		if len(kept) == len(cur.Outbox) {
			return nil
		}
		cur.Outbox = kept
		return cur
	})
	return err
}
