// Package heartbeat runs the heartbeat monitors (the dead-man's switch): a
// monitor is a name, an interval (every) and a last ping; when no ping has
// arrived for every, counted from the last ping or from when the monitor was
// first loaded, a firing alert "heartbeat/<name>" is raised, and the next
// ping resolves it.
//
// Everything lives in JetStream, so that a restart, a kill -9 or a second
// worker neither loses a deadline nor raises an alert twice:
//   - pings are messages on heartbeats.<name> (over NATS, or stored by
//     POST /v1/heartbeats/{name}) in the work-queue stream HEARTBEATS, applied
//     by the durable consumer escalator-heartbeats; one published while no
//     worker runs counts, at the time it was stored, when one starts;
//   - each monitor's state is one entry of the KV bucket escalator_heartbeats
//     (what the deadline counts from, the last ping applied, the missed
//     deadline whose alert is firing, and an outbox of alert events not yet
//     stored), changed only by compare-and-set;
//   - each monitor's deadline is one JetStream message schedule on
//     escalator.heartbeat.timer.<token> that the server fires onto
//     escalator.heartbeat.due.<token> (stream HEARTBEAT_TIMERS), consumed by
//     the durable consumer escalator-heartbeat-due; a deadline that fires
//     late, twice, or after a ping moved it finds nothing to do;
//   - alert events go to alerts.heartbeat with a Nats-Msg-Id naming the
//     missed deadline, through the same policy matching as any other alert.
//
// The package knows NATS (through natsx's names), the alert event format and
// the monitor list (policy.Heartbeat); not escalations or providers.
package heartbeat

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/policy"
)

// Config configures a Runtime.
type Config struct {
	// JS is the worker's JetStream; natsx.Ensure and natsx.EnsureHeartbeats
	// must have run.
	JS jetstream.JetStream
	// Policies returns the policies in force (policystore.Store.Current);
	// the monitors are their Heartbeats. A new *policy.Set is a reload.
	Policies func() *policy.Set
	// Topology must be the one natsx.EnsureHeartbeats was given.
	Topology natsx.Topology
	// Token, when set, is required on the HTTP paths (httpauth.Token).
	Token string
	// Clock is when a monitor is first loaded and whether a deadline is due
	// (nil: the real clock). A ping's time is always when JetStream stored
	// it, and schedules fire on the server's clock.
	Clock clock.Clock
	// ReloadEvery is how often RunMonitors looks for a reload (default 1s).
	ReloadEvery time.Duration
	// Registerer receives the metrics (nil: not registered).
	Registerer prometheus.Registerer
	Logger     *zap.Logger
}

// Validate checks the required fields.
func (c Config) Validate() error {
	if c.JS == nil || c.Policies == nil {
		return errors.New("new heartbeat runtime: JetStream and Policies are required")
	}
	return nil
}

// Runtime is the heartbeat monitors' runtime. Create it with New; run
// RunPings, RunDeadlines and RunMonitors as parts of the worker; serve its
// HTTP paths with Register.
type Runtime struct {
	cfg Config
	js  jetstream.JetStream
	st  store
	clk clock.Clock
	log *zap.Logger
	m   *metrics
	idx atomic.Pointer[index]
	// ackWait is the consumers' ack wait: a handler must finish within it.
	ackWait time.Duration
}

// New checks cfg and returns a Runtime. Its metrics are registered now.
func New(cfg Config) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.ReloadEvery <= 0 {
		cfg.ReloadEvery = time.Second
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Runtime{
		cfg:     cfg,
		js:      cfg.JS,
		st:      newStore(cfg.JS),
		clk:     cfg.Clock,
		log:     cfg.Logger.With(zap.String("component", "heartbeat")),
		m:       m,
		ackWait: natsx.HeartbeatDueConsumerConfig(cfg.Topology).AckWait,
	}, nil
}

// index is the monitors of one policy set, by name.
type index struct {
	set    *policy.Set
	byName map[string]*policy.Heartbeat
}

// monitors returns the monitors in force, by name, and their set.
func (r *Runtime) monitors() *index {
	set := r.cfg.Policies()
	if idx := r.idx.Load(); idx != nil && idx.set == set {
		return idx
	}
	idx := &index{set: set, byName: map[string]*policy.Heartbeat{}}
	if set != nil {
		for _, h := range set.Heartbeats {
			if h != nil {
				idx.byName[h.Name] = h
			}
		}
	}
	r.idx.Store(idx)
	return idx
}

// monitor returns the monitor named name, or nil when none is loaded.
func (r *Runtime) monitor(name string) *policy.Heartbeat { return r.monitors().byName[name] }

// now is the clock's time, in UTC, without a monotonic reading (it is
// compared with times read back from JSON).
func (r *Runtime) now() time.Time { return r.clk.Now().UTC().Round(0) }

// key is a monitor's key in the bucket and its subjects' token.
func key(name string) string { return natsx.SubjectToken(name) }
