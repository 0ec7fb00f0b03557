package cluster

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/app"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall/iotcallsim"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot/yemotsim"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/systest/ledger"
	"github.com/escalator-oss/escalator/internal/systest/natscluster"
	"github.com/escalator-oss/escalator/internal/systest/seed"
)

const (
	// alerts is the load, each alert its own escalation; steps are the
	// steps each escalation runs (testdata/policies).
	alerts = 300
	steps  = 2
	// simAuthCode is the simulated IoTCall account's AuthCode.
	simAuthCode = "cluster-test-auth-code"
	// shards are the test policies' shards; shard x's second step uses the
	// IoTCall rule cluster-x.
	shards = "abc"
	// settle bounds the whole run after the load: recovery from the killed
	// worker alone takes the lease (30s) and the ack wait (30s) at most.
	settle = 4 * time.Minute
)

// streams are every stream escalator creates; KV buckets are streams KV_<name>.
var streams = []string{
	natsx.StreamAlerts, natsx.StreamDead, natsx.StreamTimers, natsx.StreamOutcomes,
	natsx.StreamHeartbeats, natsx.StreamHeartbeatTimers,
	"KV_" + natsx.BucketEscalations, "KV_" + natsx.BucketDedup, "KV_" + natsx.BucketLocks,
	"KV_" + natsx.BucketReplies, "KV_" + natsx.BucketSilences, "KV_" + natsx.BucketHeartbeats, "KV_" + natsx.BucketPositions,
}

// TestThreeNodesThreeWorkers runs three escalator workers against a 3-node
// NATS cluster with R3 streams and buckets, loads them with alerts, kills the
// node leading the timer stream and, a little later, one worker in the middle
// of placing a call, and has the ledger (internal/systest/ledger) check that
// every escalation completes exactly once: started once, each step
// dispatched once (re-runs only when flagged in_doubt), exhausted once, and
// no call at the simulators beyond those. Every provider request is tagged
// with its escalation and step, so the ledger counts each call against its
// own step. Which worker dies, and in which of its calls, come from the
// run's seed.
func TestThreeNodesThreeWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of cluster load and recovery")
	}
	r := seed.For(t)
	tr := &trigger{victim: r.IntN(3), after: 5 + r.IntN(11), killed: make(chan struct{})}
	t.Logf("worker %d is to die in the middle of call number %d it places after the node dies", tr.victim, tr.after)
	began := time.Now()
	c := natscluster.Start(t, 3)

	iot := iotcallsim.NewServer(simAuthCode)
	t.Cleanup(iot.Close)
	for _, sh := range shards {
		iot.AddRule("cluster-"+string(sh), iotcallsim.Normal)
	}
	ym := yemotsim.New(yemotsim.Config{})
	t.Cleanup(ym.Close)

	var rec ledger.Recorder
	var workers []*worker
	for i := range 3 {
		workers = append(workers, startWorker(t, i, c, iot, ym, &rec, tr))
	}
	_, js := c.Connect(t)
	ctx := context.Background()

	// Every stream and bucket is replicated three times.
	for _, name := range streams {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		peers := 0
		if info.Cluster != nil {
			peers = 1 + len(info.Cluster.Replicas)
		}
		if info.Config.Replicas != 3 || peers != 3 {
			t.Errorf("stream %s: %d replicas configured, %d peers; want 3", name, info.Config.Replicas, peers)
		}
	}

	out := ledger.ReadOutcomes(t, js)
	publish := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			publishAlert(t, js, i)
		}
	}

	// A third of the load, then the node leading the timers stream dies.
	publish(0, alerts/3)
	leaders, err := natscluster.Leaders(ctx, js, streams...)
	if err != nil {
		t.Fatal(err)
	}
	victimNode := c.Node(leaders[natsx.StreamTimers])
	if victimNode == nil {
		t.Fatalf("no running leader of %s: %v", natsx.StreamTimers, leaders)
	}
	var led []string
	for _, name := range streams {
		if leaders[name] == victimNode.Name() {
			led = append(led, name)
		}
	}
	t.Logf("killing NATS node %s (kill -9), leader of %s", victimNode.Name(), strings.Join(led, ", "))
	nodeKilled := time.Now()
	c.Kill(victimNode)

	// Another third; meanwhile the chosen worker dies in the middle of its
	// chosen call.
	tr.armed.Store(true)
	publish(alerts/3, 2*alerts/3)
	select {
	case <-tr.killed:
	case <-time.After(settle):
		var placed []string
		for _, w := range workers {
			status := "disconnected"
			if nc := w.nc.Load(); nc != nil {
				status = nc.Status().String()
			}
			placed = append(placed, fmt.Sprintf("worker %d: %d calls in all, NATS %s", w.i, w.calls.Load(), status))
		}
		t.Fatalf("worker %d did not place %d calls after the node died, only %d (%s; outcomes: %s); %s",
			tr.victim, tr.after, workers[tr.victim].since.Load(), strings.Join(placed, "; "), out.Progress(), seed.Line())
	}
	workerKilled := time.Now()
	t.Logf("killed worker %d in the middle of call number %d (its NATS connection closed without draining, its HTTP requests cut)",
		tr.victim, tr.after)
	publish(2*alerts/3, alerts)
	loaded := time.Now()

	ids := make([]string, alerts)
	for i := range ids {
		ids[i] = alertID(i)
	}
	pending := out.WaitFinal(ids, settle)
	allDone := time.Now()
	if len(pending) > 0 {
		t.Errorf("%d of %d escalations not ended after %s (%s); %s", len(pending), alerts, settle, out.Progress(), seed.Line())
		_, state := consumers(js)
		t.Logf("consumers: %s", state)
		for _, id := range pending[:min(len(pending), 10)] {
			t.Logf("  %s: record in the bucket: %s", id, ledger.Record(js, id))
		}
	} else {
		// Nothing more is in flight: nothing pending or unacknowledged on
		// either consumer (the dead worker's deliveries have come back and
		// been handled), and every outcome published is read.
		waitQuiet(t, js)
		out.WaitCaughtUp(t, 30*time.Second)
	}
	out.Stop()

	rep := ledger.Count(ledger.Run{Alerts: ids, Outcomes: out.All(), Calls: rec.Calls(), Tagged: true, Steps: steps,
		AtSimulators: map[string]int{ledger.IoTCall: len(iot.Calls()), ledger.Yemot: len(ym.Campaigns())}})
	t.Logf("ledger: %s", rep.Summary())
	var failures []string
	for _, why := range slices.Sorted(maps.Keys(rep.Failures)) {
		failures = append(failures, fmt.Sprintf("%d× %s", rep.Failures[why], why))
	}
	t.Logf("dispatch_failed: %v; workers: %s", failures, workerLine(workers))
	t.Logf("times: cluster up %s, load %s, node kill → worker kill %s, worker kill → all exhausted %s, total %s",
		nodeKilled.Sub(began).Round(time.Millisecond), loaded.Sub(nodeKilled).Round(time.Millisecond),
		workerKilled.Sub(nodeKilled).Round(time.Millisecond), allDone.Sub(workerKilled).Round(time.Millisecond),
		time.Since(began).Round(time.Millisecond))
	t.Logf("slowest escalation: %s", slowest(out.All(), workerKilled))
	for _, u := range out.Undecodable() {
		t.Errorf("an outcome that is not outcome JSON: %s", u)
	}
	rep.Fail(t, "cluster", seed.Line())
	if rep.InDoubt == 0 {
		t.Errorf("no step in doubt, although worker %d was killed between placing a call and recording it; %s", tr.victim, seed.Line())
	}
}

// worker is one escalator worker and its way to the provider simulators.
type worker struct {
	i      int
	nc     atomic.Pointer[nats.Conn]
	dead   atomic.Bool
	calls  atomic.Int64 // calls placed
	since  atomic.Int64 // calls placed since the trigger was armed
	cancel context.CancelFunc
	done   chan error
}

// kill stops the worker abruptly: its NATS connection is closed without
// draining (nothing in flight is acknowledged or handed back), its HTTP
// requests to the providers are cut from now on, then its context ends.
func (w *worker) kill() {
	w.dead.Store(true)
	if nc := w.nc.Load(); nc != nil {
		nc.Close()
	}
	w.cancel()
}

// trigger kills, once armed, worker victim in the middle of its after-th
// call: after the provider accepted it, before the worker hears so.
type trigger struct {
	victim, after int
	armed         atomic.Bool
	once          sync.Once
	killed        chan struct{}
}

// accepted is told of each call w placed (ledger.Recorder.Front); false cuts
// the worker off before it hears the answer.
func (tr *trigger) accepted(w *worker) func(ledger.Call) bool {
	return func(ledger.Call) bool {
		w.calls.Add(1)
		if w.dead.Load() {
			return false // a dead worker hears nothing more
		}
		if !tr.armed.Load() || w.i != tr.victim || w.since.Add(1) < int64(tr.after) {
			return true
		}
		fired := false
		tr.once.Do(func() {
			fired = true
			w.kill()
			close(tr.killed)
		})
		return !fired
	}
}

func startWorker(t *testing.T, i int, c *natscluster.Cluster, iot *iotcallsim.Server, ym *yemotsim.Server, rec *ledger.Recorder, tr *trigger) *worker {
	t.Helper()
	w := &worker{i: i, done: make(chan error, 1)}
	// Each worker has its own fronts to the simulators, which record its
	// calls and can cut it off.
	front := func(provider, target string) *httptest.Server {
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		f := rec.Front(provider, fmt.Sprintf("worker %d", i), httputil.NewSingleHostReverseProxy(u), tr.accepted(w))
		s := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if w.dead.Load() {
				panic(http.ErrAbortHandler) // a dead worker's requests go nowhere
			}
			f.ServeHTTP(rw, r)
		}))
		t.Cleanup(s.Close)
		return s
	}
	iotFront := front(ledger.IoTCall, iot.URL())
	ymFront := front(ledger.Yemot, strings.TrimSuffix(ym.URL(), "/ym/api"))
	env := map[string]string{
		"IOTCALL_AUTH_CODE": simAuthCode, "IOTCALL_BASE_URL": iotFront.URL,
		"YEMOT_TOKEN": ym.Token(), "YEMOT_BASE_URL": ymFront.URL + "/ym/api",
	}

	cfg := app.Defaults()
	cfg.NATSURL = c.URLs()
	cfg.Replicas = 3
	cfg.HTTPAddr = ""
	cfg.Policies = "testdata/policies"
	cfg.ShutdownGrace = 2 * time.Second
	cfg.MaxCallsPerPersonPerHour = 0 // the same two people are called hundreds of times
	cfg.Getenv = func(k string) string { return env[k] }
	cfg.ProviderTransport = ledger.Tagging(app.ProviderTransport())
	a, err := app.New(cfg, testLogger(t, i))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() { w.done <- a.Run(ctx) }()
	select {
	case <-a.Started():
	case err := <-w.done:
		t.Fatalf("worker %d: run: %v", i, err)
	case <-time.After(60 * time.Second):
		t.Fatalf("worker %d not started", i)
	}
	w.nc.Store(a.Conn())
	t.Cleanup(func() {
		cancel()
		if w.dead.Load() {
			// Its connection is closed: handlers still retrying their
			// publishes hold its shutdown for up to the engine's
			// PublishRetryFor (2m). A killed process would just be gone.
			return
		}
		select {
		case err := <-w.done:
			if err != nil {
				t.Errorf("worker %d: run returned %v", i, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("worker %d: shutdown took too long", i)
		}
	})
	return w
}

// testLogger logs worker i at ESCALATOR_CLUSTER_LOG's level (debug, info,
// warn, error) to stderr; without it, not at all.
func testLogger(t *testing.T, i int) *zap.Logger {
	lvl := os.Getenv("ESCALATOR_CLUSTER_LOG")
	if lvl == "" {
		return nil
	}
	log, err := app.NewLogger("console", lvl)
	if err != nil {
		t.Fatal(err)
	}
	return log.With(zap.Int("worker", i))
}

func workerLine(ws []*worker) string {
	var parts []string
	for _, w := range ws {
		s := fmt.Sprintf("%d placed %d calls", w.i, w.calls.Load())
		if w.dead.Load() {
			s += " (killed)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// publishAlert stores alert i in ALERTS, retrying while the cluster elects
// new leaders; its Nats-Msg-Id makes a retry stored once.
func publishAlert(t *testing.T, js jetstream.JetStream, i int) {
	t.Helper()
	id := alertID(i)
	data := fmt.Sprintf(`{"id":%q,"status":"firing","severity":"critical","summary":"cluster test alert %d",`+
		`"labels":{"team":"cluster","shard":"%c"},"at":"2026-11-23T03:00:00Z"}`, id, i, shards[i%len(shards)])
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := js.Publish(ctx, "alerts.cluster", []byte(data), jetstream.WithMsgID(id))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish %s: %v", id, err)
		}
	}
}

func alertID(i int) string { return fmt.Sprintf("cluster-%03d", i) }

// waitQuiet waits until both consumers have nothing pending and nothing
// unacknowledged. The server tells no one when that happens, so this polls,
// with a generous deadline.
func waitQuiet(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		quiet, state := consumers(js)
		if quiet {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumers not quiet after %s: %s", settle, state)
		}
		time.Sleep(200 * time.Millisecond) // poll interval, see above
	}
}

// consumers says whether the alerts and wake-up consumers have nothing
// pending and nothing unacknowledged, and what they have.
func consumers(js jetstream.JetStream) (quiet bool, state string) {
	quiet = true
	var parts []string
	for _, sc := range [][2]string{{natsx.StreamAlerts, natsx.ConsumerAlerts}, {natsx.StreamTimers, natsx.ConsumerDue}} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		info, err := js.Consumer(ctx, sc[0], sc[1])
		var ci *jetstream.ConsumerInfo
		if err == nil {
			ci, err = info.Info(ctx)
		}
		cancel()
		if err != nil {
			quiet = false
			parts = append(parts, fmt.Sprintf("%s: %v", sc[1], err))
			continue
		}
		if ci.NumPending != 0 || ci.NumAckPending != 0 {
			quiet = false
		}
		parts = append(parts, fmt.Sprintf("%s: %d pending, %d unacknowledged, %d redelivered", sc[1], ci.NumPending, ci.NumAckPending, ci.NumRedelivered))
	}
	return quiet, strings.Join(parts, "; ")
}

// slowest describes the escalation that took longest from started to
// exhausted: its outcomes, timed from its start (and the worker kill).
func slowest(outcomes []outcome.Outcome, killed time.Time) string {
	byEsc := map[string][]outcome.Outcome{}
	for _, o := range outcomes {
		byEsc[o.EscalationID] = append(byEsc[o.EscalationID], o)
	}
	var worst string
	var took time.Duration
	for id, evs := range byEsc {
		var start, end time.Time
		for _, o := range evs {
			switch o.Event {
			case outcome.Started:
				start = o.At
			case outcome.Exhausted:
				end = o.At
			}
		}
		if !start.IsZero() && end.Sub(start) > took {
			worst, took = id, end.Sub(start)
		}
	}
	if worst == "" {
		return "none"
	}
	evs := byEsc[worst]
	start := evs[0].At
	parts := []string{fmt.Sprintf("%s took %s, started %s after the worker kill:", worst, took.Round(time.Millisecond),
		start.Sub(killed).Round(time.Millisecond))}
	for _, o := range evs {
		e := fmt.Sprintf("%s step %d +%s", o.Event, o.Step, o.At.Sub(start).Round(time.Millisecond))
		if o.InDoubt {
			e += " in_doubt"
		}
		parts = append(parts, e)
	}
	return strings.Join(parts, " ")
}
