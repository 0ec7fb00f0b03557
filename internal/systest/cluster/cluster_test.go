package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"sort"
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
	"github.com/escalator-oss/escalator/internal/systest/natscluster"
)

const (
	// alerts is the load: each alert its own escalation of two steps.
	alerts = 300
	// killAfter: once armed, the first worker to place this many calls is
	// killed in the middle of the last one.
	killAfter = 10
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
	"KV_" + natsx.BucketEscalations, "KV_" + natsx.BucketDedup, "KV_" + natsx.BucketLocks,
}

// TestThreeNodesThreeWorkers runs three escalator workers against a 3-node
// NATS cluster with R3 streams and buckets, loads them with alerts, kills the
// node leading the timer stream and, a little later, one worker in the middle
// of placing a call, and checks that every escalation completes exactly once:
// started once, each step dispatched once (re-runs only when flagged
// in_doubt), exhausted once, and no call at the simulators beyond those.
func TestThreeNodesThreeWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of cluster load and recovery")
	}
	began := time.Now()
	c := natscluster.Start(t, 3)

	iot := iotcallsim.NewServer(simAuthCode)
	t.Cleanup(iot.Close)
	for _, sh := range shards {
		iot.AddRule("cluster-"+string(sh), iotcallsim.Normal)
	}
	ym := yemotsim.New(yemotsim.Config{})
	t.Cleanup(ym.Close)

	tr := &trigger{killed: make(chan struct{})}
	var workers []*worker
	for i := range 3 {
		workers = append(workers, startWorker(t, i, c, iot, ym, tr))
	}
	nc, js := c.Connect(t)
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

	col := collect(t, js, alerts)
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

	// Another third; meanwhile the first worker to place killAfter calls
	// dies in the middle of its last one.
	tr.armed.Store(true)
	publish(alerts/3, 2*alerts/3)
	select {
	case <-tr.killed:
	case <-time.After(settle):
		t.Fatal("no worker placed a call after the node died")
	}
	workerKilled := time.Now()
	t.Logf("killed worker %d (its NATS connection closed without draining, its HTTP requests cut)", tr.victim)
	publish(2*alerts/3, alerts)
	loaded := time.Now()

	select {
	case <-col.done:
	case <-time.After(settle):
		t.Fatalf("%d of %d escalations exhausted after %s", col.exhaustedCount(), alerts, settle)
	}
	allDone := time.Now()
	// Nothing more is in flight: nothing pending or unacknowledged on either
	// consumer (the dead worker's deliveries have come back and been handled).
	waitQuiet(t, js)
	col.waitCaughtUp(t, js)

	f := col.figures(ym.Campaigns(), iot.Calls())
	t.Logf("alerts %d, escalations %d, exhausted %d, steps %d, dispatched %d (in_doubt %d), calls %d (yemot %d, iotcall %d), "+
		"calls not in any outcome %d, lost %d, duplicated %d",
		alerts, f.escalations, f.exhausted, f.steps, f.dispatched, f.inDoubt, f.calls, f.yemot, f.iotcall,
		f.orphans, f.lost, f.duplicated)
	t.Logf("fallbacks %d, dispatch_failed %d (first: %q); workers: %s", f.fallbacks, f.failed, f.firstFailure, workerLine(workers))
	t.Logf("times: cluster up %s, load %s, node kill → worker kill %s, worker kill → all exhausted %s, total %s",
		nodeKilled.Sub(began).Round(time.Millisecond), loaded.Sub(nodeKilled).Round(time.Millisecond),
		workerKilled.Sub(nodeKilled).Round(time.Millisecond), allDone.Sub(workerKilled).Round(time.Millisecond),
		time.Since(began).Round(time.Millisecond))
	t.Logf("slowest escalation: %s", col.slowest(workerKilled))
	for _, p := range f.problems {
		t.Error(p)
	}
	if f.lost != 0 || f.duplicated != 0 {
		t.Errorf("lost %d, duplicated %d: want 0 and 0", f.lost, f.duplicated)
	}
	if f.inDoubt == 0 {
		t.Errorf("no step in doubt, although worker %d was killed between placing a call and recording it", tr.victim)
	}
	_ = nc
}

// worker is one escalator worker and its way to the provider simulators.
type worker struct {
	i      int
	app    *app.App
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

// trigger kills, once armed, the first worker to place killAfter calls,
// after the provider accepted the last one and before the worker hears so.
type trigger struct {
	armed  atomic.Bool
	once   sync.Once
	victim int
	killed chan struct{}
}

var errKilled = errors.New("worker killed")

func startWorker(t *testing.T, i int, c *natscluster.Cluster, iot *iotcallsim.Server, ym *yemotsim.Server, tr *trigger) *worker {
	t.Helper()
	w := &worker{i: i, done: make(chan error, 1)}
	isCall := func(r *http.Request) bool {
		p := r.URL.Path
		return strings.HasSuffix(p, "/CallExtensionBridging") || strings.HasSuffix(p, "/RunTzintuk") ||
			(r.Method == http.MethodPost && strings.HasSuffix(p, "/call"))
	}
	front := func(target string) *httptest.Server {
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		p := httputil.NewSingleHostReverseProxy(u)
		p.ModifyResponse = func(resp *http.Response) error {
			if !isCall(resp.Request) || resp.StatusCode/100 != 2 {
				return nil
			}
			w.calls.Add(1)
			if !tr.armed.Load() || w.since.Add(1) < killAfter {
				return nil
			}
			fired := false
			tr.once.Do(func() {
				fired, tr.victim = true, w.i
				w.kill()
				close(tr.killed)
			})
			if fired {
				return errKilled
			}
			return nil
		}
		// A dead worker hears nothing more: the connection is cut.
		p.ErrorHandler = func(http.ResponseWriter, *http.Request, error) { panic(http.ErrAbortHandler) }
		s := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if w.dead.Load() {
				panic(http.ErrAbortHandler)
			}
			p.ServeHTTP(rw, r)
		}))
		t.Cleanup(s.Close)
		return s
	}
	iotFront := front(iot.URL())
	ymFront := front(strings.TrimSuffix(ym.URL(), "/ym/api"))
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
	a, err := app.New(cfg, testLogger(t, i))
	if err != nil {
		t.Fatal(err)
	}
	w.app = a
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
		quiet := true
		var last string
		for _, sc := range [][2]string{{natsx.StreamAlerts, natsx.ConsumerAlerts}, {natsx.StreamTimers, natsx.ConsumerDue}} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			info, err := js.Consumer(ctx, sc[0], sc[1])
			var ci *jetstream.ConsumerInfo
			if err == nil {
				ci, err = info.Info(ctx)
			}
			cancel()
			if err != nil {
				quiet, last = false, err.Error()
				continue
			}
			if ci.NumPending != 0 || ci.NumAckPending != 0 {
				quiet = false
				last = fmt.Sprintf("%s: %d pending, %d unacknowledged", sc[1], ci.NumPending, ci.NumAckPending)
			}
		}
		if quiet {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumers not quiet after %s: %s", settle, last)
		}
		time.Sleep(200 * time.Millisecond) // poll interval, see above
	}
}

// collector reads every outcome from the ESCALATIONS stream (an ordered
// consumer, which survives the node's death) and closes done once want
// escalations are exhausted.
type collector struct {
	want int

	mu        sync.Mutex
	outcomes  []outcome.Outcome
	exhausted map[string]bool
	lastSeq   uint64
	done      chan struct{}
}

func collect(t *testing.T, js jetstream.JetStream, want int) *collector {
	t.Helper()
	col := &collector{want: want, exhausted: map[string]bool{}, done: make(chan struct{})}
	ctx := context.Background()
	oc, err := js.OrderedConsumer(ctx, natsx.StreamOutcomes, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := oc.Consume(func(m jetstream.Msg) {
		var o outcome.Outcome
		if err := json.Unmarshal(m.Data(), &o); err != nil {
			t.Errorf("outcome %s: %v", m.Data(), err)
			return
		}
		meta, _ := m.Metadata()
		col.mu.Lock()
		defer col.mu.Unlock()
		col.outcomes = append(col.outcomes, o)
		if meta != nil {
			col.lastSeq = meta.Sequence.Stream
		}
		if o.Event == outcome.Exhausted && !col.exhausted[o.EscalationID] {
			col.exhausted[o.EscalationID] = true
			if len(col.exhausted) == col.want {
				close(col.done)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return col
}

func (col *collector) exhaustedCount() int {
	col.mu.Lock()
	defer col.mu.Unlock()
	return len(col.exhausted)
}

// waitCaughtUp waits until the collector has read the stream's last
// message (polled: the consumer says nothing when it is at the end).
func (col *collector) waitCaughtUp(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := js.Stream(ctx, natsx.StreamOutcomes)
		var last uint64
		if err == nil {
			var info *jetstream.StreamInfo
			if info, err = s.Info(ctx); err == nil {
				last = info.State.LastSeq
			}
		}
		cancel()
		col.mu.Lock()
		seen := col.lastSeq
		col.mu.Unlock()
		if err == nil && seen >= last {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outcomes read up to %d of %d: %v", seen, last, err)
		}
		time.Sleep(100 * time.Millisecond) // poll interval, see above
	}
}

// figures are the run's counts.
type figures struct {
	escalations, exhausted, steps, dispatched, inDoubt int
	calls, yemot, iotcall, orphans                     int
	fallbacks, failed                                  int
	firstFailure                                       string
	lost, duplicated                                   int
	problems                                           []string
}

type stepKey struct {
	esc        string
	step, loop int
}

// figures counts what the outcomes and the simulators show, and describes
// every escalation, step or outcome lost or duplicated.
func (col *collector) figures(campaigns []yemotsim.Campaign, iotCalls []iotcallsim.Call) figures {
	col.mu.Lock()
	defer col.mu.Unlock()
	var f figures
	problem := func(format string, args ...any) {
		if len(f.problems) < 20 {
			f.problems = append(f.problems, fmt.Sprintf(format, args...))
		}
	}
	escOf := map[string]map[string]bool{} // alert id → escalations seen in any outcome
	started, exhausted := map[string]int{}, map[string]int{}
	normal, doubt := map[stepKey]int{}, map[stepKey]int{}
	refs := map[string]int{} // Yemot campaign id → dispatched outcomes naming it
	iotDispatched := 0
	for _, o := range col.outcomes {
		if escOf[o.AlertID] == nil {
			escOf[o.AlertID] = map[string]bool{}
		}
		escOf[o.AlertID][o.EscalationID] = true
		switch o.Event {
		case outcome.Started:
			started[o.EscalationID]++
		case outcome.Exhausted:
			exhausted[o.EscalationID]++
		case outcome.Fallback:
			f.fallbacks++
		case outcome.DispatchFailed:
			f.failed++
			if f.firstFailure == "" {
				f.firstFailure = o.Provider + ": " + o.Error
			}
		case outcome.Dispatched:
			f.dispatched++
			k := stepKey{o.EscalationID, o.Step, o.Loop}
			if o.InDoubt {
				f.inDoubt++
				doubt[k]++
			} else {
				normal[k]++
			}
			switch o.Provider {
			case "yemot":
				for _, r := range o.References {
					refs[r]++
				}
			case "iotcall":
				iotDispatched++
			}
		}
	}
	once := func(what, esc string, n int) {
		switch {
		case n == 0:
			f.lost++
			problem("escalation %s: no %s outcome", esc, what)
		case n > 1:
			f.duplicated += n - 1
			problem("escalation %s: %d %s outcomes", esc, n, what)
		}
	}
	for i := range alerts {
		id := alertID(i)
		escs := slices.Sorted(maps.Keys(escOf[id]))
		switch n := len(escs); {
		case n == 0:
			f.lost++
			problem("alert %s: no escalation", id)
		case n > 1:
			f.duplicated += n - 1
			problem("alert %s: %d escalations %v", id, n, escs)
		}
		for _, esc := range escs {
			f.escalations++
			once("started", esc, started[esc])
			once("exhausted", esc, exhausted[esc])
			for step := range 2 {
				f.steps++
				k := stepKey{esc, step, 0}
				switch {
				case normal[k]+doubt[k] == 0:
					f.lost++
					problem("escalation %s step %d: never dispatched", esc, step)
				case normal[k] > 1:
					f.duplicated += normal[k] - 1
					problem("escalation %s step %d: dispatched %d times, not in doubt", esc, step, normal[k])
				}
			}
		}
	}
	for _, n := range exhausted {
		f.exhausted += n
	}
	// At the simulators: every call is a step's, or the call the killed
	// worker placed and never recorded (its step was placed again, in doubt).
	f.yemot, f.iotcall = len(campaigns), len(iotCalls)
	f.calls = f.yemot + f.iotcall
	for _, c := range campaigns {
		switch refs[c.ID] {
		case 0:
			f.orphans++
		case 1:
		default:
			problem("yemot campaign %s named by %d dispatched outcomes", c.ID, refs[c.ID])
		}
	}
	if f.iotcall > iotDispatched {
		f.orphans += f.iotcall - iotDispatched
	}
	if extra := f.calls - f.steps - f.inDoubt; extra > 0 {
		f.duplicated += extra
		problem("%d calls at the simulators beyond %d steps and %d in-doubt re-runs", extra, f.steps, f.inDoubt)
	}
	if f.orphans > f.inDoubt {
		problem("%d calls named by no outcome, but only %d steps in doubt", f.orphans, f.inDoubt)
	}
	sort.Strings(f.problems)
	return f
}

// slowest describes the escalation that took longest from started to
// exhausted: its outcomes, timed from its start (and the worker kill).
func (col *collector) slowest(killed time.Time) string {
	col.mu.Lock()
	defer col.mu.Unlock()
	byEsc := map[string][]outcome.Outcome{}
	for _, o := range col.outcomes {
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
