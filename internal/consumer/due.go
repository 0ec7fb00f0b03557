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

// TimersConfig configures a Timers consumer.
type TimersConfig struct {
	JS      jetstream.JetStream
	Handler WakeupHandler
	// Workers handle wake-ups at once; one escalation's always go to the
	// same worker (default 8).
	Workers  int
	Topology natsx.Topology
	Grace    time.Duration
	// RedeliveryDelay is the wait before redelivering a failed wake-up.
	RedeliveryDelay func(n uint64) time.Duration
	Logger          *zap.Logger
}

// Timers pulls due wake-ups from the ESCALATION_TIMERS stream.
type Timers struct {
	cfg      TimersConfig
	log      *zap.Logger
	stopping atomic.Bool
	ackWait  time.Duration
}

// NewTimers checks cfg and returns a Timers consumer.
func NewTimers(cfg TimersConfig) (*Timers, error) {
	if cfg.JS == nil || cfg.Handler == nil {
		return nil, errors.New("new timers: JetStream and Handler are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	if cfg.RedeliveryDelay == nil {
		cfg.RedeliveryDelay = redeliveryDelay
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Timers{cfg: cfg, log: cfg.Logger.With(zap.String("component", "timers")),
		ackWait: natsx.DueConsumerConfig(cfg.Topology).AckWait}, nil
}

// Run consumes wake-ups until ctx is done, with the same stop behaviour as
// Consumer.Run.
func (t *Timers) Run(ctx context.Context) error {
	cons, err := t.cfg.JS.Consumer(ctx, natsx.StreamTimers, natsx.ConsumerDue)
	if err != nil {
		return fmt.Errorf("run timers: %w", err)
	}
	p := &pool{workers: t.cfg.Workers, grace: t.cfg.Grace, log: t.log, stopping: &t.stopping}
	return p.run(ctx, cons, func(msg jetstream.Msg) (string, job) {
		return msg.Subject(), job{msg: msg}
	}, t.process)
}

func (t *Timers) process(ctx context.Context, j job) {
	msg := j.msg
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	subj := msg.Subject()
	w := Wakeup{Subject: subj, Key: subj[strings.LastIndexByte(subj, '.')+1:], Data: msg.Data(), NumDelivered: meta.NumDelivered}
	err = inProgress(msg, t.ackWait, func() error { return t.cfg.Handler.HandleWakeup(ctx, w) })
	if err != nil {
		delay := t.cfg.RedeliveryDelay(meta.NumDelivered)
		t.log.Warn("wake-up failed: redelivering", zap.String("key", w.Key), zap.Error(err),
			zap.Duration("after", delay), zap.Uint64("delivery", meta.NumDelivered))
		_ = msg.NakWithDelay(delay)
		return
	}
	if err := msg.Ack(); err != nil {
		t.log.Warn("ack wake-up", zap.Error(err))
	}
}
