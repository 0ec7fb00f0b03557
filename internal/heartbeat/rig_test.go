package heartbeat

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/policy"
)

// waitFor bounds every wait of these tests. Deadlines are JetStream message
// schedules, which fire on the server's real clock (whole seconds): the
// monitors of tests that let one fire have an every of 2-3 s.
const waitFor = 20 * time.Second

// rig is a real JetStream server with the streams a worker makes, the
// monitors in force (a test may replace them: a reload), and the
// heartbeat alert events stored in ALERTS, as they arrive.
type rig struct {
	t    *testing.T
	srv  *server.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	topo natsx.Topology
	set  atomic.Pointer[policy.Set]
	// alerts receives every message stored on alerts.heartbeat, in order;
	// seen is the stream sequence of the last one.
	alerts chan stored
	seen   atomic.Uint64
	// logger, when set, is the runtimes' logger.
	logger *zap.Logger
}

// stored is an alert event as ALERTS stored it.
type stored struct {
	ev    alert.Event
	msgID string
	seq   uint64
}

func newRig(t *testing.T, monitors ...*policy.Heartbeat) *rig {
	t.Helper()
	srv := natstest.RunServer(t, "")
	nc, js := natstest.Connect(t, srv)
	g := &rig{t: t, srv: srv, nc: nc, js: js, topo: natsx.Topology{AckWait: 4 * time.Second}, alerts: make(chan stored, 100)}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := natsx.Ensure(ctx, js, g.topo); err != nil {
		t.Fatal(err)
	}
	if err := natsx.EnsureHeartbeats(ctx, js, g.topo); err != nil {
		t.Fatal(err)
	}
	g.setMonitors(monitors...)
	oc, err := js.OrderedConsumer(ctx, natsx.StreamAlerts, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{natsx.SubjectAlertsHeartbeat}})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := oc.Consume(func(m jetstream.Msg) {
		// What the alert consumer will do with it: alert.Decode.
		ev, err := alert.Decode(m.Data(), 0)
		if err != nil {
			t.Errorf("a heartbeat alert alert.Decode refuses: %v: %s", err, m.Data())
		}
		meta, _ := m.Metadata()
		g.alerts <- stored{ev: ev, msgID: m.Headers().Get(jetstream.MsgIDHeader), seq: meta.Sequence.Stream}
		g.seen.Store(meta.Sequence.Stream)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return g
}

// setMonitors replaces the monitors in force (a reload).
func (g *rig) setMonitors(monitors ...*policy.Heartbeat) {
	g.set.Store(&policy.Set{Heartbeats: monitors})
}

func (g *rig) policies() *policy.Set { return g.set.Load() }

func monitor(name string, every time.Duration) *policy.Heartbeat {
	return &policy.Heartbeat{Name: name, Every: every, Labels: map[string]string{"team": "db", "service": "backup"},
		Summary: name + " has not reported"}
}

// part names what start runs.
type part int

const (
	pings part = 1 << iota
	deadlines
	monitors
	all = pings | deadlines | monitors
)

// running is one runtime, on its own connection, as a worker runs it.
type running struct {
	rt   *Runtime
	reg  *prometheus.Registry
	stop func()
}

// start runs a runtime's parts with clk (nil: the real clock) until the
// test ends or stop.
func (g *rig) start(clk clock.Clock, parts part) *running {
	g.t.Helper()
	_, js := natstest.Connect(g.t, g.srv)
	reg := prometheus.NewRegistry()
	rt, err := New(Config{JS: js, Policies: g.policies, Topology: g.topo, Clock: clk, Registerer: reg, Logger: g.logger})
	if err != nil {
		g.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				g.t.Errorf("%s: %v", name, err)
			}
		}()
	}
	if parts&pings != 0 {
		run("pings", rt.RunPings)
	}
	if parts&deadlines != 0 {
		run("deadlines", rt.RunDeadlines)
	}
	if parts&monitors != 0 {
		run("monitors", rt.RunMonitors)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(waitFor):
				g.t.Error("runtime did not stop")
			}
		})
	}
	g.t.Cleanup(stop)
	return &running{rt: rt, reg: reg, stop: stop}
}

// nextAlert returns the next heartbeat alert stored in ALERTS.
func (g *rig) nextAlert() stored {
	g.t.Helper()
	select {
	case s := <-g.alerts:
		return s
	case <-time.After(waitFor):
		g.t.Fatal("no heartbeat alert stored")
		return stored{}
	}
}

// noAlert fails if a heartbeat alert was stored that the test has not read.
func (g *rig) noAlert() {
	g.t.Helper()
	g.caughtUp()
	select {
	case s := <-g.alerts:
		g.t.Errorf("unexpected heartbeat alert: %s %s at %s (msg id %s)", s.ev.ID, s.ev.Status, s.ev.At, s.msgID)
	default:
	}
}

// caughtUp waits until the test's reader has every message of
// alerts.heartbeat the stream holds now.
func (g *rig) caughtUp() {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	s, err := g.js.Stream(ctx, natsx.StreamAlerts)
	if err != nil {
		g.t.Fatal(err)
	}
	last, err := s.GetLastMsgForSubject(ctx, natsx.SubjectAlertsHeartbeat)
	if err != nil {
		return // none stored
	}
	for g.seen.Load() < last.Sequence {
		select {
		case <-ctx.Done():
			g.t.Fatalf("reader of ALERTS not caught up with sequence %d", last.Sequence)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// handled waits until consumer has acknowledged every message its stream
// holds now: whatever the runtimes were given is done.
func (g *rig) handled(stream, consumer string) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for {
		c, err := g.js.Consumer(ctx, stream, consumer)
		if err != nil {
			g.t.Fatal(err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			g.t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0 {
			return
		}
		select {
		case <-ctx.Done():
			g.t.Fatalf("%s still has work: %d pending, %d unacknowledged", consumer, info.NumPending, info.NumAckPending)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// state reads a monitor's state (from the stream's leader, as the runtime).
func (g *rig) state(name string) *record {
	g.t.Helper()
	st := newStore(g.js)
	rec, _, err := st.load(context.Background(), key(name))
	if err != nil {
		g.t.Fatal(err)
	}
	return rec
}

// waitState waits until a monitor's state satisfies ok, watching the bucket.
func (g *rig) waitState(name string, what string, ok func(*record) bool) *record {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	kv, err := g.js.KeyValue(ctx, natsx.BucketHeartbeats)
	if err != nil {
		g.t.Fatal(err)
	}
	w, err := kv.Watch(ctx, key(name))
	if err != nil {
		g.t.Fatal(err)
	}
	defer w.Stop()
	var last *record
	for {
		select {
		case e := <-w.Updates():
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var rec record
			if err := json.Unmarshal(e.Value(), &rec); err != nil {
				g.t.Fatal(err)
			}
			last = &rec
			if ok(&rec) {
				return &rec
			}
		case <-ctx.Done():
			g.t.Fatalf("heartbeat %s: never %s; last state %+v", name, what, last)
		}
	}
}

// pingAt stores a ping for name and returns when JetStream stored it.
func (g *rig) pingAt(name string) (time.Time, uint64) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ack, err := g.js.Publish(ctx, natsx.PingSubject(name), nil)
	if err != nil {
		g.t.Fatal(err)
	}
	s, err := g.js.Stream(ctx, natsx.StreamHeartbeats)
	if err != nil {
		g.t.Fatal(err)
	}
	m, err := s.GetMsg(ctx, ack.Sequence)
	if err != nil {
		// Applied and removed already: the state says when it was stored.
		rec := g.waitState(name, "given the ping", func(r *record) bool { return r.PingSeq >= ack.Sequence })
		return rec.LastPing, ack.Sequence
	}
	return m.Time.UTC(), ack.Sequence
}

// counter is one counter's value.
func counter(c prometheus.Counter) float64 { return testutil.ToFloat64(c) }
