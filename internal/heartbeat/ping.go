package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/consumer"
	"github.com/escalator-oss/escalator/internal/natsx"
)

// ReasonUnknown is the dead-letter reason of a ping for no monitor in force:
// it goes to escalator.dead.unknown_heartbeat.
const ReasonUnknown = "unknown_heartbeat"

// HeaderStream names, on a dead letter, the stream the original message was
// in (HEARTBEATS); Escalator-Stream-Seq is its sequence there.
const HeaderStream = "Escalator-Stream"

// ErrUnknown is Ping's error for a name that cannot be a ping subject.
var ErrUnknown = errors.New("not a heartbeat monitor name")

// Ping stores a ping for the monitor name in the HEARTBEATS stream, as `nats
// pub heartbeats.<name>` or POST /v1/heartbeats/{name} does, and returns once
// JetStream has stored it. It does not check that such a monitor is in
// force: a ping for none is dead-lettered by the worker that takes it.
func Ping(ctx context.Context, js jetstream.JetStream, name string) error {
	if !natsx.ValidPingName(name) {
		return fmt.Errorf("ping %q: %w", name, ErrUnknown)
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if _, err := js.Publish(ctx, natsx.PingSubject(name), nil); err != nil {
		return fmt.Errorf("ping %s: %w", name, err)
	}
	return nil
}

// RunPings applies the pings as they come, until ctx ends; see pull for how
// it stops.
func (r *Runtime) RunPings(ctx context.Context) error {
	return r.pull(ctx, natsx.StreamHeartbeats, natsx.ConsumerHeartbeats, "heartbeat pings", r.handlePing)
}

// handlePing applies one ping, at the time JetStream stored it. It is
// idempotent: a ping at or below the last one applied changes nothing but
// publishing the outbox and setting the deadline again.
//   - a ping for no monitor in force is dead-lettered;
//   - a ping stored after the deadline, whose miss no deadline message
//     recorded yet (the worker was down), records the miss first: the alert
//     fires, and is resolved by this same ping, whichever of the two
//     messages a worker handles first;
//   - a ping resolves the firing alert, and the deadline counts from it
//     (or from when the monitor was loaded, if that is later).
func (r *Runtime) handlePing(ctx context.Context, msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("ping without metadata: %w", err)
	}
	name, _ := natsx.PingName(msg.Subject())
	h := r.monitor(name)
	if h == nil {
		return r.deadLetter(ctx, msg, meta, fmt.Sprintf("no heartbeat monitor named %q is in force", name))
	}
	if meta.NumDelivered == 1 {
		r.m.pings.WithLabelValues(name).Inc()
	}
	seq, at := meta.Sequence.Stream, meta.Timestamp.UTC().Round(0)
	k := key(name)
	cur, _, err := r.st.load(ctx, k)
	if err != nil {
		return err
	}
	if cur != nil && seq > cur.PingSeq && !cur.firing() && at.After(cur.deadline(h.Every)) {
		// Late: apply the pings in the order they were stored, so that an
		// earlier one, handed back meanwhile, can still say it was on time.
		if p, err := r.firstUnapplied(ctx, name, cur.PingSeq); err != nil {
			return err
		} else if p != nil && p.Sequence < seq {
			return &retryLater{d: time.Second, why: "an earlier ping is still to be applied"}
		}
	}
	missed := false
	rec, _, err := r.update(ctx, k, func(cur *record) *record {
		missed = false
		if cur == nil {
			// Not loaded yet here (a reload racing the ping): loaded now.
			cur = &record{Name: name, Since: r.now()}
		} else if seq <= cur.PingSeq {
			return nil // applied already
		}
		if !cur.firing() && at.After(cur.deadline(h.Every)) {
			missed = true
			cur.Missed = cur.deadline(h.Every)
			cur.Outbox = append(cur.Outbox, firing(h, cur, cur.Missed))
		}
		if cur.firing() {
			cur.Outbox = append(cur.Outbox, resolved(h, cur.Missed, at))
			cur.Missed = time.Time{}
		}
		cur.LastPing, cur.PingSeq = at, seq
		if at.After(cur.Since) {
			cur.Since = at
		}
		return cur
	})
	if err != nil {
		return err
	}
	if missed {
		r.m.missed.WithLabelValues(name).Inc()
		r.log.Warn("heartbeat missed (its ping came late): raising and resolving its alert", zap.String("heartbeat", name),
			zap.Time("ping", at))
	}
	if err := r.flush(ctx, k, rec); err != nil {
		return err
	}
	if rec == nil || rec.firing() {
		return nil
	}
	return r.arm(ctx, name, rec.deadline(h.Every))
}

// firstUnapplied returns the first ping for name stored after sequence
// after, or nil when there is none. HEARTBEATS is a work queue: pings stay
// until acknowledged, so this is the earliest ping not yet applied (or
// being applied right now).
func (r *Runtime) firstUnapplied(ctx context.Context, name string, after uint64) (*jetstream.RawStreamMsg, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	s, err := r.js.Stream(ctx, natsx.StreamHeartbeats)
	if err != nil {
		return nil, fmt.Errorf("look for pings of %s: %w", name, err)
	}
	m, err := s.GetMsg(ctx, after+1, jetstream.WithGetMsgSubject(natsx.PingSubject(name)))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look for pings of %s: %w", name, err)
	}
	return m, nil
}

// deadLetter publishes a ping for no monitor, byte for byte, to
// escalator.dead.unknown_heartbeat with the headers an alert's dead letter
// has (reason, error, subject, sequence, deliveries) and the stream's name.
// Its message id is "dead-heartbeat-<sequence>": the sequence is in
// HEARTBEATS, and "dead-<sequence>" would collide with an alert's.
// A failed publish hands the ping back; it is never dropped.
func (r *Runtime) deadLetter(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, why string) error {
	seq := strconv.FormatUint(meta.Sequence.Stream, 10)
	out := &nats.Msg{Subject: natsx.SubjectDeadRoot + "." + ReasonUnknown, Data: msg.Data(), Header: nats.Header{}}
	for k, vs := range msg.Headers() {
		if k == jetstream.MsgIDHeader {
			k = "Escalator-Original-Msg-Id"
		}
		out.Header[k] = vs
	}
	out.Header.Set(consumer.HeaderReason, ReasonUnknown)
	out.Header.Set(consumer.HeaderError, why)
	out.Header.Set(consumer.HeaderSubject, msg.Subject())
	out.Header.Set(consumer.HeaderStreamSeq, seq)
	out.Header.Set(consumer.HeaderDelivered, strconv.FormatUint(meta.NumDelivered, 10))
	out.Header.Set(HeaderStream, natsx.StreamHeartbeats)
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if _, err := r.js.PublishMsg(ctx, out, jetstream.WithMsgID("dead-heartbeat-"+seq)); err != nil {
		return fmt.Errorf("dead-letter ping %s: %w", msg.Subject(), err)
	}
	r.m.rejected.WithLabelValues(ReasonUnknown).Inc()
	r.log.Warn("ping rejected", zap.String("subject", msg.Subject()), zap.String("reason", ReasonUnknown), zap.String("error", why))
	return nil
}
