package consumer

import (
	"context"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/natsx"
)

// Headers set on a dead-lettered message; its data is the original bytes.
const (
	HeaderReason    = "Escalator-Reason"
	HeaderError     = "Escalator-Error"
	HeaderSubject   = "Escalator-Subject"
	HeaderStreamSeq = "Escalator-Stream-Seq"
	HeaderDelivered = "Escalator-Deliveries"
)

// redeliveryDelay is the wait before the n-th redelivery of an event whose
// handler failed: 1s, 2s, 4s … capped at 30s.
func redeliveryDelay(n uint64) time.Duration {
	d := time.Second << min(n-1, 5)
	return min(d, 30*time.Second)
}

func (c *Consumer) process(ctx context.Context, j job) {
	msg := j.msg
	meta, err := msg.Metadata()
	if err != nil {
		c.log.Error("alert without metadata: terminating it", zap.Error(err))
		_ = msg.Term()
		return
	}
	source := sourceOf(msg.Subject(), j.ev)
	if meta.NumDelivered == 1 {
		c.m.Received.WithLabelValues(source).Inc()
	}
	log := c.log.With(zap.Uint64("seq", meta.Sequence.Stream), zap.String("subject", msg.Subject()))

	if j.decErr != nil {
		reason := alert.ReasonOf(j.decErr)
		if reason == "" {
			reason = alert.ReasonNotJSON
		}
		c.deadLetter(ctx, log, msg, meta, reason, j.decErr.Error(), source)
		return
	}
	log = log.With(zap.String("alert", j.ev.ID), zap.String("status", string(j.ev.Status)))

	dup, err := c.dedup.seen(ctx, j.ev, meta.Sequence.Stream)
	if err != nil {
		// Fail open: a duplicate is better than a lost alert, and the engine
		// is idempotent anyway.
		log.Warn("duplicate check failed; handling the event", zap.Error(err))
	}
	if dup {
		c.m.Duplicate.WithLabelValues(source).Inc()
		log.Debug("duplicate alert event dropped")
		c.ack(log, msg)
		return
	}

	d := Delivery{Event: j.ev, Subject: msg.Subject(), Source: source, StreamSeq: meta.Sequence.Stream,
		NumDelivered: meta.NumDelivered, Stored: meta.Timestamp}
	if err := c.handle(ctx, msg, d); err != nil {
		if meta.NumDelivered >= c.maxDeliv {
			log.Error("alert handler failed on the last delivery: dead-lettering", zap.Error(err))
			c.deadLetter(ctx, log, msg, meta, ReasonHandlerFailed, err.Error(), source)
			return
		}
		delay := c.cfg.RedeliveryDelay(meta.NumDelivered)
		log.Warn("alert handler failed: redelivering", zap.Error(err), zap.Duration("after", delay),
			zap.Uint64("delivery", meta.NumDelivered))
		if err := msg.NakWithDelay(delay); err != nil {
			log.Warn("nak alert", zap.Error(err))
		}
		return
	}
	c.m.Accepted.WithLabelValues(source).Inc()
	c.ack(log, msg)
}

// handle runs the handler while telling JetStream the event is in progress.
func (c *Consumer) handle(ctx context.Context, msg jetstream.Msg, d Delivery) error {
	return inProgress(msg, c.ackWait, func() error { return c.cfg.Handler.HandleAlert(ctx, d) })
}

// inProgress runs f, telling JetStream every third of the ack wait that msg
// is still being worked on, so slow work is not redelivered meanwhile.
func inProgress(msg jetstream.Msg, ackWait time.Duration, f func() error) error {
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return f()
}

func (c *Consumer) ack(log *zap.Logger, msg jetstream.Msg) {
	if err := msg.Ack(); err != nil {
		log.Warn("ack alert", zap.Error(err))
	}
}

// deadLetter publishes the original bytes to escalator.dead.<reason> with the
// reason, the error and the source subject in headers, then acks. When the
// publish fails the event is handed back, never dropped.
func (c *Consumer) deadLetter(ctx context.Context, log *zap.Logger, msg jetstream.Msg, meta *jetstream.MsgMetadata, reason, errText, source string) {
	seq := strconv.FormatUint(meta.Sequence.Stream, 10)
	out := &nats.Msg{
		Subject: natsx.SubjectDeadRoot + "." + reason,
		Data:    msg.Data(),
		Header:  nats.Header{},
	}
	for k, vs := range msg.Headers() {
		if k == jetstream.MsgIDHeader {
			k = "Escalator-Original-Msg-Id"
		}
		out.Header[k] = vs
	}
	out.Header.Set(HeaderReason, reason)
	out.Header.Set(HeaderError, errText)
	out.Header.Set(HeaderSubject, msg.Subject())
	out.Header.Set(HeaderStreamSeq, seq)
	out.Header.Set(HeaderDelivered, strconv.FormatUint(meta.NumDelivered, 10))
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// The message id makes a retried dead-letter publish stored once.
	if _, err := c.cfg.JS.PublishMsg(pctx, out, jetstream.WithMsgID("dead-"+seq)); err != nil {
		log.Error("dead-letter publish failed: handing the event back", zap.Error(err))
		_ = msg.NakWithDelay(c.cfg.RedeliveryDelay(meta.NumDelivered))
		return
	}
	c.m.Rejected.WithLabelValues(source, reason).Inc()
	log.Warn("alert rejected", zap.String("reason", reason), zap.String("error", errText))
	c.ack(log, msg)
}
