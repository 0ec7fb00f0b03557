package consumer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/natsx"
)

// Wakeup is one due message: a timer that fired, or a step to run now.
type Wakeup struct {
	Subject string
	// Key is the subject's last token (the escalation's key).
	Key          string
	Data         []byte
	NumDelivered uint64
}

// WakeupHandler receives due wake-ups.
type WakeupHandler interface {
	// HandleWakeup processes one wake-up. It must be idempotent: a timer can
	// fire twice, late, or for an escalation that has moved on. nil acks it;
	// an error redelivers it later (wake-ups are never dropped).
	HandleWakeup(ctx context.Context, w Wakeup) error
}

// WakeupFunc adapts a function to WakeupHandler.
type WakeupFunc func(ctx context.Context, w Wakeup) error

// HandleWakeup calls f.
func (f WakeupFunc) HandleWakeup(ctx context.Context, w Wakeup) error { return f(ctx, w) }

// WakeupsConfig configures a Wakeups consumer.
type WakeupsConfig struct {
	JS      jetstream.JetStream
	Handler WakeupHandler
	// Workers handle wake-ups at once; one escalation's always go to the
	// same worker (default DefaultWorkers).
	Workers  int
	Topology natsx.Topology
	Grace    time.Duration
	// RedeliveryDelay is the wait before redelivering a failed wake-up.
	RedeliveryDelay func(n uint64) time.Duration
	Logger          *zap.Logger
}

// Wakeups pulls due wake-ups from the ESCALATION_TIMERS stream: timers
// that fired, and steps to place now.
type Wakeups struct {
	cfg      WakeupsConfig
	log      *zap.Logger
	stopping atomic.Bool
	ackWait  time.Duration
}

// NewWakeups checks cfg and returns a Wakeups consumer.
func NewWakeups(cfg WakeupsConfig) (*Wakeups, error) {
	if cfg.JS == nil || cfg.Handler == nil {
		return nil, errors.New("new wakeups: JetStream and Handler are required")
	}
	withDefaults(&cfg.Workers, &cfg.Grace, &cfg.RedeliveryDelay, &cfg.Logger)
	return &Wakeups{cfg: cfg, log: cfg.Logger.With(zap.String("component", "wakeups")),
		ackWait: natsx.DueConsumerConfig(cfg.Topology).AckWait}, nil
}

// Run consumes wake-ups until ctx is done, with the same stop behaviour as
// Consumer.Run.
func (w *Wakeups) Run(ctx context.Context) error {
	cons, err := w.cfg.JS.Consumer(ctx, natsx.StreamTimers, natsx.ConsumerDue)
	if err != nil {
		return fmt.Errorf("run wakeups: %w", err)
	}
	p := &pool{workers: w.cfg.Workers, grace: w.cfg.Grace, log: w.log, stopping: &w.stopping}
	return p.run(ctx, cons, func(msg jetstream.Msg) (string, job) {
		return msg.Subject(), job{msg: msg}
	}, w.process)
}

func (w *Wakeups) process(ctx context.Context, j job) {
	msg := j.msg
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	subj := msg.Subject()
	wu := Wakeup{Subject: subj, Key: subj[strings.LastIndexByte(subj, '.')+1:], Data: msg.Data(), NumDelivered: meta.NumDelivered}
	err = inProgress(msg, w.ackWait, func() error { return w.cfg.Handler.HandleWakeup(ctx, wu) })
	if err != nil {
		delay := w.cfg.RedeliveryDelay(meta.NumDelivered)
		// A handler that knows when to try again says so (a step whose
		// lease another worker holds: when it runs out).
		var ra interface{ RetryAfter() time.Duration }
		if errors.As(err, &ra) && ra.RetryAfter() > 0 {
			delay = ra.RetryAfter()
		}
		w.log.Warn("wake-up failed: redelivering", zap.String("key", wu.Key), zap.Error(err),
			zap.Duration("after", delay), zap.Uint64("delivery", meta.NumDelivered))
		_ = msg.NakWithDelay(delay)
		return
	}
	if err := msg.Ack(); err != nil {
		w.log.Warn("ack wake-up", zap.Error(err))
	}
}
