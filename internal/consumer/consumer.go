// Package consumer pulls alert events from the ALERTS stream, decodes and
// validates them, drops retries within the duplicate window, dead-letters bad
// input with its reason, and hands every accepted event to a Handler (the
// engine). It does not know what an escalation is.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/metrics"
	"github.com/escalator-oss/escalator/internal/natsx"
)

// Delivery is one accepted alert event and where it came from.
type Delivery struct {
	Event   alert.Event
	Subject string
	// Source is the event's source, or else the subject's second token.
	Source string
	// StreamSeq is the event's sequence in ALERTS: unique and stable across
	// redeliveries, so a handler can use it as an idempotency key.
	StreamSeq    uint64
	NumDelivered uint64
	// Stored is when JetStream stored the event.
	Stored time.Time
}

// Handler receives accepted alert events.
type Handler interface {
	// HandleAlert processes one event. It must be idempotent: JetStream
	// delivers at least once. nil acknowledges the event; an error hands it
	// back for redelivery with backoff, and after the last delivery it is
	// dead-lettered with reason "handler_failed".
	HandleAlert(ctx context.Context, d Delivery) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, d Delivery) error

// HandleAlert calls f.
func (f HandlerFunc) HandleAlert(ctx context.Context, d Delivery) error { return f(ctx, d) }

// ReasonHandlerFailed is the dead-letter reason of an event whose handler kept
// failing until its last delivery.
const ReasonHandlerFailed = "handler_failed"

// Consumer defaults.
const (
	// DefaultWorkers is how many events (or wake-ups) are handled at once.
	// Each handler spends most of its time waiting on JetStream round trips,
	// so there are several per core: escalator bench measured about twice
	// the escalations started per second with 16 as with 4 on 2 cores.
	DefaultWorkers = 16
	// DefaultGrace bounds how long in-flight work may take on shutdown.
	DefaultGrace = 10 * time.Second
)

// withDefaults fills in what both consumers take beyond their handler.
func withDefaults(workers *int, grace *time.Duration, delay *func(uint64) time.Duration, log **zap.Logger) {
	if *workers <= 0 {
		*workers = DefaultWorkers
	}
	if *grace <= 0 {
		*grace = DefaultGrace
	}
	if *delay == nil {
		*delay = redeliveryDelay
	}
	if *log == nil {
		*log = zap.NewNop()
	}
}

// Config configures a Consumer.
type Config struct {
	JS      jetstream.JetStream
	Handler Handler
	// Workers process events concurrently; events of one alert id always go
	// to the same worker, so they are handled in order (default
	// DefaultWorkers).
	Workers int
	// MaxEventSize is the largest event accepted (default alert.DefaultMaxSize).
	MaxEventSize int
	// Topology must be the one natsx.Ensure was given (MaxDeliver, AckWait).
	Topology natsx.Topology
	// Grace bounds how long in-flight events may take to finish on shutdown
	// (default 10s); events not started by then are handed back.
	Grace time.Duration
	// RedeliveryDelay is the wait before redelivering an event whose handler
	// failed on delivery n (default: 1s, 2s, 4s … capped at 30s).
	RedeliveryDelay func(n uint64) time.Duration
	Logger          *zap.Logger
	Metrics         *metrics.Alerts
}

// Consumer is the alert consumer. Create it with New and run it with Run.
type Consumer struct {
	cfg      Config
	log      *zap.Logger
	m        *metrics.Alerts
	dedup    *dedup
	stopping atomic.Bool
	maxDeliv uint64
	ackWait  time.Duration
}

// New checks cfg and returns a Consumer.
func New(cfg Config) (*Consumer, error) {
	if cfg.JS == nil || cfg.Handler == nil {
		return nil, errors.New("new consumer: JetStream and Handler are required")
	}
	withDefaults(&cfg.Workers, &cfg.Grace, &cfg.RedeliveryDelay, &cfg.Logger)
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewAlerts(nil)
	}
	cc := cfg.Topology.AlertsConsumerConfig()
	return &Consumer{
		cfg:      cfg,
		log:      cfg.Logger.With(zap.String("component", "consumer")),
		m:        cfg.Metrics,
		maxDeliv: uint64(cc.MaxDeliver),
		ackWait:  cc.AckWait,
	}, nil
}

type job struct {
	msg    jetstream.Msg
	ev     alert.Event
	decErr error
}

// Run consumes until ctx is done, then stops taking events: those being
// handled get up to Grace to finish, the rest are handed back (Nak) at once
// for another worker or the next start. Run returns nil after a clean stop.
func (c *Consumer) Run(ctx context.Context) error {
	cons, err := c.cfg.JS.Consumer(ctx, natsx.StreamAlerts, natsx.ConsumerAlerts)
	if err != nil {
		return fmt.Errorf("run consumer: %w", err)
	}
	if c.dedup, err = openDedup(ctx, c.cfg.JS); err != nil {
		return fmt.Errorf("run consumer: %w", err)
	}
	p := &pool{workers: c.cfg.Workers, grace: c.cfg.Grace, log: c.log, stopping: &c.stopping}
	return p.run(ctx, cons,
		func(msg jetstream.Msg) (string, job) {
			j := job{msg: msg}
			j.ev, j.decErr = alert.Decode(msg.Data(), c.cfg.MaxEventSize)
			if j.decErr != nil {
				return msg.Subject(), j
			}
			return j.ev.ID, j
		},
		c.process)
}

// pool pulls messages from a consumer and processes them on a fixed number
// of workers; messages with the same key always go to the same worker, so
// they are processed in order.
type pool struct {
	workers  int
	grace    time.Duration
	log      *zap.Logger
	stopping *atomic.Bool
}

func (p *pool) run(ctx context.Context, cons jetstream.Consumer, route func(jetstream.Msg) (string, job), process func(context.Context, job)) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * p.workers))
	if err != nil {
		return fmt.Errorf("pull messages: %w", err)
	}
	// Handlers run on their own context, cancelled only when the grace
	// period after a stop has run out.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()

	queues := make([]chan job, p.workers)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan job, 1)
		wg.Add(1)
		go func(q <-chan job) {
			defer wg.Done()
			for j := range q {
				if p.stopping.Load() {
					handBack(p.log, j.msg)
					continue
				}
				process(hctx, j)
			}
		}(queues[i])
	}

	// fatal is why the fetcher stopped on its own: the consumer was deleted,
	// or the server refused the pull. Retrying would never get a message;
	// Run returns it, so the worker stops and its supervisor restarts it
	// (which creates the consumer again).
	var fatal error
	fetchDone := make(chan struct{})
	// fetchCtx ends the fetcher when the grace period is over even if the
	// iterator is still draining: a drain needs the server to confirm it,
	// and with NATS unreachable it would hold the shutdown for the
	// connection's whole drain timeout (Stop after Drain does nothing).
	fetchCtx, endFetch := context.WithCancel(context.WithoutCancel(ctx))
	defer endFetch()
	go func() {
		defer close(fetchDone)
		for {
			msg, err := it.Next(jetstream.NextContext(fetchCtx))
			if err != nil {
				if fetchCtx.Err() != nil {
					return // the grace period is over; what is buffered is redelivered after AckWait
				}
				if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrBadRequest) {
					fatal = fmt.Errorf("pull messages: %w", err)
					return
				}
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					if ctx.Err() == nil {
						fatal = errors.New("pull messages: the consumer's iterator closed")
					}
					return
				}
				p.log.Warn("pull", zap.Error(err))
				continue
			}
			if p.stopping.Load() {
				handBack(p.log, msg)
				continue
			}
			key, j := route(msg)
			queues[shard(key, len(queues))] <- j
		}
	}()

	select {
	case <-ctx.Done():
	case <-fetchDone:
		p.log.Error("pulling stopped: the worker stops", zap.Error(fatal))
	}
	p.stopping.Store(true)
	it.Drain() // buffered messages still come out of Next, and are handed back
	timer := time.NewTimer(p.grace)
	defer timer.Stop()
	expired := false
	select {
	case <-fetchDone:
	case <-timer.C:
		// The fetcher may be held up handing a message to a busy handler
		// (its queue is full): cancel the handlers so that it goes on.
		expired = true
		p.log.Warn("grace period over: cancelling work in flight; it will be redelivered")
		it.Stop()
		endFetch()
		hcancel()
		<-fetchDone
	}
	for _, q := range queues {
		close(q)
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	if expired {
		<-finished
		return fatal
	}
	select {
	case <-finished:
	case <-timer.C:
		p.log.Warn("grace period over: cancelling work in flight; it will be redelivered")
		hcancel()
		<-finished
	}
	return fatal
}

func shard(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// handBack returns a message for redelivery now, because this worker stops.
func handBack(log *zap.Logger, msg jetstream.Msg) {
	if err := msg.Nak(); err != nil {
		log.Debug("hand back", zap.Error(err))
	}
}

// sourceOf names where an event came from: its own source field, or else the
// second token of its subject (alerts.<source>).
func sourceOf(subject string, ev alert.Event) string {
	src := ev.Source
	if src == "" {
		parts := strings.SplitN(subject, ".", 3)
		if len(parts) >= 2 {
			src = parts[1]
		}
	}
	if len(src) > 64 {
		src = src[:64]
	}
	if src == "" {
		src = "unknown"
	}
	return src
}
