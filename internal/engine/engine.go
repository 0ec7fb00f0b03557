// Package engine runs escalations: it starts them from alerts, keeps their
// state in a JetStream KV bucket (compare-and-set, so several workers can run
// against one cluster), applies the policy's pure plan, places calls through
// the dispatcher, sets durable JetStream timers for the waits, and publishes
// every outcome. Every handler is idempotent: JetStream delivers at least
// once and timers can fire twice.
//
// Each handler is a decision applied by update (update.go): load the record,
// decide, save with compare-and-set. A decision's outcomes are saved in the
// record's outbox with it and published from there (outbox.go), so that an
// outcome is never lost between saving and publishing, and placing calls
// never waits on a publish.
package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/consumer"
	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

// Dispatcher places a step's calls (implemented by *dispatch.Dispatcher).
type Dispatcher interface {
	Dispatch(ctx context.Context, req dispatch.Request, chain []provider.Via, wait time.Duration, report func(dispatch.Report)) dispatch.Outcome
}

// Engine defaults.
const (
	// DefaultLeaseTTL is how long the lease on a step being placed lasts;
	// it is renewed every third of that while the step is placed. A step
	// whose worker died is placed again by another worker once the lease
	// has run out and the due wake-up has come back to it
	// (natsx.DefaultDueAckWait): within about ten seconds. A worker that
	// cannot renew for that long (NATS away for 8 s) may see its step
	// placed again, in doubt.
	DefaultLeaseTTL = 8 * time.Second
	// DefaultPublishRetryFor bounds the retries of one outcome publish by a
	// handler; past it the handler fails and its message is redelivered.
	DefaultPublishRetryFor = 2 * time.Minute
	// DefaultAnswerPollFirst is the first wait before asking a provider
	// whether a call was answered.
	DefaultAnswerPollFirst = 5 * time.Second
	// DefaultPlaceAtOnce is Config.PlaceAtOnce's default.
	DefaultPlaceAtOnce = 16
	// DefaultGrace is Config.Grace's default.
	DefaultGrace = 10 * time.Second
)

// Config configures an Engine.
type Config struct {
	JS jetstream.JetStream
	// Policies returns the current policy set (for new escalations).
	Policies   func() *policy.Set
	Dispatcher Dispatcher
	Clock      clock.Clock
	Logger     *zap.Logger
	Registerer prometheus.Registerer
	// PublishRetryFor bounds the retries of one outcome publish by a
	// handler (default DefaultPublishRetryFor); past it the event is
	// redelivered and the outbox published again.
	PublishRetryFor time.Duration
	// Answerers are the providers that can tell whether a call was answered
	// (found on the providers by type assertion); their answers are polled
	// after each step and published as `answered`.
	Answerers map[string]dispatch.AnswerChecker
	// AnswerPollFirst is the first wait before asking (default
	// DefaultAnswerPollFirst); the wait doubles up to answerPollMax.
	AnswerPollFirst time.Duration
	// Silences, when set, are consulted for every firing alert and at
	// every step: an alert an active silence covers starts no escalation
	// (nor steps) until the silence ends.
	Silences Silences
	// AckWords are the replies that acknowledge (nil: DefaultAckWords).
	AckWords []string
	// LeaseTTL is how long the lease on a step being placed lasts; the
	// placing worker renews it every third of that until the step's result
	// is recorded. A worker that dies stops renewing, and once the lease
	// has run out another worker places the step again, in doubt (default
	// DefaultLeaseTTL).
	LeaseTTL time.Duration
	// PlaceAtOnce is how many new escalations' first steps this worker
	// places at once from the alert handler, without a round trip through
	// the wake-up stream; beyond it, they are handed on like any step
	// (default DefaultPlaceAtOnce; negative: none).
	PlaceAtOnce int
	// Grace is how long Close waits for first steps being placed before
	// it stops them (default DefaultGrace).
	Grace time.Duration
}

// Engine is the escalation engine. It implements consumer.Handler (alerts)
// and consumer.WakeupHandler (wake-ups: timers and steps to place).
type Engine struct {
	cfg Config
	js  jetstream.JetStream
	st  store
	// replies remembers the replies applied (HandleReply).
	replies jetstream.KeyValue
	timers  jetstream.Stream
	clk     clock.Clock
	log     *zap.Logger
	m       *engineMetrics
	// owner names this worker in intents' leases.
	owner string
	// cat is the escalations' summaries, for listings (List).
	cat catalog
	// pos keeps the round-robin positions.
	pos positions
	// placing holds the keys of the escalations whose step this worker is
	// placing now: a second wake-up of one of them is busy, not in doubt.
	placing sync.Map
	// slots bound the first steps placed at once by the alert handler
	// (placeNow); placements are those running.
	slots      chan struct{}
	placements sync.WaitGroup
	// bg runs background work (answer polls) until Close.
	bg     context.Context
	stopBg context.CancelFunc
	wg     sync.WaitGroup
}

// Close stops the engine's background work and waits for it. First steps
// being placed get Grace to finish.
func (e *Engine) Close() {
	done := make(chan struct{})
	go func() {
		e.placements.Wait()
		close(done)
	}()
	t := time.NewTimer(e.cfg.Grace)
	select {
	case <-done:
	case <-t.C:
	}
	t.Stop()
	e.stopBg()
	e.placements.Wait()
	e.wg.Wait()
}

// New opens the engine's bucket and stream (natsx.EnsureEngine must have run).
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.JS == nil || cfg.Policies == nil || cfg.Dispatcher == nil {
		return nil, errors.New("new engine: JetStream, Policies and Dispatcher are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.AnswerPollFirst <= 0 {
		cfg.AnswerPollFirst = DefaultAnswerPollFirst
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.PublishRetryFor <= 0 {
		cfg.PublishRetryFor = DefaultPublishRetryFor
	}
	if cfg.PlaceAtOnce == 0 {
		cfg.PlaceAtOnce = DefaultPlaceAtOnce
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	kv, err := cfg.JS.KeyValue(ctx, natsx.BucketEscalations)
	if err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	timers, err := cfg.JS.Stream(ctx, natsx.StreamTimers)
	if err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	replies, err := cfg.JS.KeyValue(ctx, natsx.BucketReplies)
	if err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	posKV, err := cfg.JS.KeyValue(ctx, natsx.BucketPositions)
	if err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	return &Engine{cfg: cfg, js: cfg.JS, st: newStore(cfg.JS, kv), replies: replies, timers: timers, clk: cfg.Clock,
		log: cfg.Logger.With(zap.String("component", "engine")), m: newMetrics(cfg.Registerer), owner: nuid.Next(),
		pos:   newPositions(cfg.JS, posKV),
		slots: make(chan struct{}, max(cfg.PlaceAtOnce, 0)), bg: bg, stopBg: stop}, nil
}

var (
	_ consumer.Handler       = (*Engine)(nil)
	_ consumer.WakeupHandler = (*Engine)(nil)
)

// HandleAlert implements consumer.Handler.
func (e *Engine) HandleAlert(ctx context.Context, d consumer.Delivery) error {
	switch d.Event.Status {
	case alert.Firing:
		return e.fire(ctx, d)
	case alert.Acknowledged:
		return e.stop(ctx, d, policy.Ack)
	case alert.Resolved:
		return e.stop(ctx, d, policy.Resolve)
	}
	return nil
}
