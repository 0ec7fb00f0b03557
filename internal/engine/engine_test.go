package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/consumer"
	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall/iotcallsim"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot/yemotsim"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/providers"
)

const waitFor = 20 * time.Second

const testPolicy = `
name: db
match: {labels: {team: db}}
group_by: [cluster]
people:
  aiko: {phone: "+81 80-1234-5678"}
  kenji: {phone: "+81 90-1111-2222"}
steps:
  - notify: [aiko]
    strategy: single
    via:
      - iotcall: {rule: db-oncall}
      - yemot: {ivr_path: "ivr2:/1/100", ring: 30s}
    wait: 1s
  - notify: [aiko, kenji]
    strategy: rotation
    via:
      - iotcall: {rule: db-rotation}
    wait: 1s
repeat: 0
`

type rig struct {
	t      *testing.T
	srv    *server.Server
	js     jetstream.JetStream
	nc     *nats.Conn
	iot    *iotcallsim.Server
	yem    *yemotsim.Server
	set    *policy.Set
	topo   natsx.Topology
	events chan outcome.Outcome
	// answerers are given to the workers' engines (answered detection).
	answerers map[string]dispatch.AnswerChecker
	// clock, when set, is the workers' engines' clock.
	clock clock.Clock
	// silences, when set, are the workers' engines' silences.
	silences Silences
	// url, when set, is where workers connect (a proxy); logger and
	// publishRetryFor, when set, are their engines'.
	url             string
	logger          *zap.Logger
	publishRetryFor time.Duration
	// placeAtOnce, when set, is the workers' engines' PlaceAtOnce.
	placeAtOnce int
	mu          sync.Mutex // guards set, which a test may replace
}

func newRig(t *testing.T) *rig { return newRigWith(t, testPolicy) }

func newRigWith(t *testing.T, policyYAML string) *rig {
	t.Helper()
	return newRigOn(t, natstest.RunServer(t, ""), policyYAML)
}

// newRigOn builds a rig on a running server (a restart test gives the same
// store to a second server).
func newRigOn(t *testing.T, s *server.Server, policyYAML string) *rig {
	t.Helper()
	nc, js := natstest.Connect(t, s)
	topo := natsx.Topology{AckWait: 2 * time.Second}
	ctx := context.Background()
	if err := natsx.Ensure(ctx, js, topo); err != nil {
		t.Fatal(err)
	}
	if err := natsx.EnsureEngine(ctx, js, topo); err != nil {
		t.Fatal(err)
	}
	ps, err := policy.ParseWith(policy.Options{Providers: providers.Kinds()}, "db.yaml", []byte(policyYAML))
	if err != nil {
		t.Fatal(err)
	}
	set, err := policy.NewSet(ps)
	if err != nil {
		t.Fatal(err)
	}
	iot := iotcallsim.NewServer("iot-code")
	iot.AddRule("db-oncall", iotcallsim.Normal)
	iot.AddRule("db-rotation", iotcallsim.Rotation)
	yem := yemotsim.New(yemotsim.Config{})
	t.Cleanup(iot.Close)
	t.Cleanup(yem.Close)
	r := &rig{t: t, srv: s, js: js, nc: nc, iot: iot, yem: yem, set: set, topo: topo, events: make(chan outcome.Outcome, 1000)}
	// Outcomes as a program following them reads them: from the stream,
	// each once (a plain subscription may see a republished one again).
	oc, err := js.OrderedConsumer(context.Background(), natsx.StreamOutcomes,
		jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := oc.Consume(func(m jetstream.Msg) {
		var o outcome.Outcome
		if err := json.Unmarshal(m.Data(), &o); err != nil {
			t.Errorf("outcome JSON: %v", err)
		}
		r.events <- o
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return r
}

// worker is one escalator worker: its own connection, engine and consumers.
type worker struct {
	nc     *nats.Conn
	eng    *Engine
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func (r *rig) dispatcher(t *testing.T) *dispatch.Dispatcher {
	ic, err := iotcall.New(iotcall.Config{BaseURL: r.iot.URL(), AuthCode: "iot-code"})
	if err != nil {
		t.Fatal(err)
	}
	yc, err := yemot.New(yemot.Config{BaseURL: r.yem.URL(), Token: r.yem.Token()})
	if err != nil {
		t.Fatal(err)
	}
	d, err := dispatch.New(dispatch.Config{Providers: map[string]dispatch.Provider{iotcall.Name: ic, yemot.Name: yc.Provider()},
		Attempts: 2, InitialInterval: 10 * time.Millisecond, MaxInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (r *rig) startWorker(t *testing.T, d Dispatcher) *worker {
	t.Helper()
	url := r.srv.ClientURL()
	if r.url != "" {
		url = r.url
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	retryFor := 5 * time.Second
	if r.publishRetryFor > 0 {
		retryFor = r.publishRetryFor
	}
	if d == nil {
		d = r.dispatcher(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	eng, err := New(ctx, Config{JS: js, Policies: func() *policy.Set { r.mu.Lock(); defer r.mu.Unlock(); return r.set }, Dispatcher: d, PublishRetryFor: retryFor, Clock: r.clock, Logger: r.logger,
		LeaseTTL: time.Second, Grace: time.Second, PlaceAtOnce: r.placeAtOnce, Answerers: r.answerers, AnswerPollFirst: 20 * time.Millisecond, Silences: r.silences})
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{nc: nc, eng: eng, cancel: cancel}
	cons, err := consumer.New(consumer.Config{JS: js, Handler: eng, Topology: r.topo, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tim, err := consumer.NewWakeups(consumer.WakeupsConfig{JS: js, Handler: eng, Topology: r.topo, Grace: time.Second,
		RedeliveryDelay: func(uint64) time.Duration { return 100 * time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	w.done.Add(2)
	go func() { defer w.done.Done(); _ = cons.Run(ctx) }()
	go func() { defer w.done.Done(); _ = tim.Run(ctx) }()
	t.Cleanup(w.stop)
	return w
}

func (w *worker) stop() {
	w.cancel()
	w.done.Wait()
	w.eng.Close()
	w.nc.Close()
}

// fireUntilHeld fires the alert pg-down and returns once a worker's
// dispatcher has entered its first call (and holds it).
func (r *rig) fireUntilHeld(entered <-chan struct{}) {
	r.t.Helper()
	r.publish("alerts.prometheus", `{"id":"pg-down","status":"firing","labels":{"team":"db","cluster":"pg1"}}`)
	r.expect("started 0")
	select {
	case <-entered:
	case <-time.After(waitFor):
		r.t.Fatal("no worker ever dispatched")
	}
}

func (r *rig) publish(subject, data string) {
	r.t.Helper()
	if _, err := r.js.Publish(context.Background(), subject, []byte(data)); err != nil {
		r.t.Fatal(err)
	}
}

// expect waits for the next outcomes and checks their "event step" in order,
// skipping those whose event is not in the list of kinds watched.
func (r *rig) expect(want ...string) []outcome.Outcome {
	r.t.Helper()
	var got []outcome.Outcome
	for len(got) < len(want) {
		select {
		case o := <-r.events:
			s := fmt.Sprintf("%s %d", o.Event, o.Step)
			if s != want[len(got)] {
				r.t.Fatalf("outcome %d = %q (%+v), want %q", len(got), s, o, want[len(got)])
			}
			got = append(got, o)
		case <-time.After(waitFor):
			r.t.Fatalf("waited for %q; got %d of %v", want[len(got)], len(got), want)
		}
	}
	return got
}

func TestEscalationEndToEnd(t *testing.T) {
	r := newRig(t)
	r.startWorker(t, nil)
	r.publish("alerts.prometheus", `{"id":"pg-down","status":"firing","summary":"pg down","labels":{"team":"db","cluster":"pg1"}}`)
	got := r.expect("started 0", "dispatched 0", "dispatched 1", "exhausted 1")
	if got[1].Provider != "iotcall" || got[1].People[0].Name != "aiko" || got[1].Reference == "" {
		t.Fatalf("step 1 dispatched %+v", got[1])
	}
	if got[2].People[0].Name != "aiko" || got[2].People[1].Name != "kenji" {
		t.Fatalf("step 2 dispatched %+v", got[2])
	}
	calls := r.iot.Calls()
	if len(calls) != 2 || strings.Join(calls[0].Tels, ",") != "08012345678" ||
		strings.Join(calls[1].Tels, ",") != "08012345678,09011112222" {
		t.Fatalf("IoTCall rang %+v", calls)
	}
	for _, o := range got {
		if o.EscalationID != got[0].EscalationID || o.AlertID != "pg-down" || o.Policy != "db" {
			t.Fatalf("outcome ids %+v", o)
		}
	}
}

func TestAckStopsAndResolveEnds(t *testing.T) {
	r := newRig(t)
	r.startWorker(t, nil)
	r.publish("alerts.prometheus", `{"id":"pg-down","status":"firing","labels":{"team":"db","cluster":"pg1"}}`)
	r.expect("started 0", "dispatched 0")
	r.publish("alerts.http", `{"id":"pg-down","status":"acknowledged","by":"aiko"}`)
	ack := r.expect("acknowledged 0")[0]
	if ack.By != "aiko" {
		t.Fatalf("ack by %q", ack.By)
	}
	// A repeated firing of the same alert does not page again.
	r.publish("alerts.prometheus", `{"id":"pg-down","status":"firing","at":"2026-11-23T03:00:00Z","labels":{"team":"db","cluster":"pg1"}}`)
	r.publish("alerts.prometheus", `{"id":"pg-down","status":"resolved","labels":{"team":"db","cluster":"pg1"}}`)
	r.expect("resolved 0")
	if n := len(r.iot.Calls()); n != 1 {
		t.Fatalf("IoTCall rang %d times, want 1 (the ack stopped step 2)", n)
	}
	select {
	case o := <-r.events:
		t.Fatalf("unexpected outcome after resolve: %+v", o)
	case <-time.After(2500 * time.Millisecond): // longer than step 1's wait: no timer may fire
	}
}

func TestFallbackToYemot(t *testing.T) {
	r := newRig(t)
	r.startWorker(t, nil)
	r.iot.FailNext(10, 503)
	r.publish("alerts.prometheus", `{"id":"pg-down","status":"firing","labels":{"team":"db","cluster":"pg1"}}`)
	got := r.expect("started 0", "dispatch_failed 0", "fallback 0", "dispatched 0")
	if got[3].Provider != "yemot" || !strings.HasPrefix(got[3].Reference, "YA-") && got[3].Reference == "" {
		t.Fatalf("fallback dispatched %+v", got[3])
	}
	if len(r.yem.Campaigns()) != 1 {
		t.Fatalf("yemot campaigns %+v", r.yem.Campaigns())
	}
}

func TestStormIsOneEscalation(t *testing.T) {
	// Long waits: the storm must meet one active escalation throughout.
	r := newRigWith(t, strings.ReplaceAll(testPolicy, "wait: 1s", "wait: 1m"))
	r.startWorker(t, nil)
	const n = 1000
	for i := range n {
		r.publish("alerts.prometheus", fmt.Sprintf(`{"id":"disk-%d","status":"firing","labels":{"team":"db","cluster":"pg1"}}`, i))
	}
	grouped, started, dispatched := 0, 0, 0
	deadline := time.After(60 * time.Second)
	for grouped+started < n || dispatched == 0 {
		select {
		case o := <-r.events:
			switch o.Event {
			case outcome.Started:
				started++
			case outcome.Grouped:
				grouped++
			case outcome.Dispatched:
				dispatched++
			}
		case <-deadline:
			t.Fatalf("started %d grouped %d of %d", started, grouped, n)
		}
	}
	if started != 1 || grouped != n-1 {
		t.Fatalf("started %d grouped %d", started, grouped)
	}
	if calls := r.iot.Calls(); len(calls) != 1 {
		t.Fatalf("%d alerts made %d IoTCall calls, want 1", n, len(calls))
	}
}

func TestUnmatched(t *testing.T) {
	r := newRig(t)
	r.startWorker(t, nil)
	r.publish("alerts.prometheus", `{"id":"web down/1","status":"firing","labels":{"team":"web"}}`)
	o := r.expect("unmatched 0")[0]
	if o.AlertID != "web down/1" {
		t.Fatalf("unmatched %+v", o)
	}
}

// dying is a dispatcher that "dies" on its first call: it never returns, as
// a worker killed between recording a step and recording its result.
type dying struct{ entered chan struct{} }

func (d dying) Dispatch(ctx context.Context, _ dispatch.Request, _ []provider.Via, _ time.Duration, _ func(dispatch.Report)) dispatch.Outcome {
	close(d.entered)
	<-ctx.Done() // only when the test ends and cancels everything
	return dispatch.Outcome{}
}

func TestCrashBetweenIntentAndResult(t *testing.T) {
	r := newRig(t)
	d := dying{entered: make(chan struct{})}
	a := r.startWorker(t, d)
	r.fireUntilHeld(d.entered)
	// Kill A: its connection goes, so its wake-up is redelivered and its
	// acks never arrive. (Its stuck goroutine stays behind, as a dead process would.)
	a.nc.Close()
	r.startWorker(t, nil)
	got := r.expect("dispatched 0", "dispatched 1", "exhausted 1")
	if !got[0].InDoubt {
		t.Fatalf("re-run step not marked in doubt: %+v", got[0])
	}
	if got[1].InDoubt {
		t.Fatalf("step 2 marked in doubt: %+v", got[1])
	}
	if calls := r.iot.Calls(); len(calls) != 2 {
		t.Fatalf("IoTCall rang %d times, want 2", len(calls))
	}
}

func TestWorkersRunEachStepOnce(t *testing.T) {
	for _, tt := range []struct {
		name    string
		workers int
		kill    bool
	}{
		{"two workers", 2, false},
		{"three workers, one killed", 3, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			var ws []*worker
			for range tt.workers {
				ws = append(ws, r.startWorker(t, nil))
			}
			const n = 20
			for i := range n {
				r.publish("alerts.prometheus", fmt.Sprintf(`{"id":"a-%d","status":"firing","labels":{"team":"db","cluster":"c%d"}}`, i, i))
			}
			dispatched := map[string]int{}
			inDoubt := map[string]bool{}
			exhausted := 0
			for exhausted < n {
				select {
				case o := <-r.events:
					switch o.Event {
					case outcome.Dispatched:
						k := fmt.Sprintf("%s/%d", o.EscalationID, o.Step)
						dispatched[k]++
						inDoubt[k] = inDoubt[k] || o.InDoubt
						if tt.kill && len(dispatched) == 5 {
							ws[0].nc.Close() // abruptly: no acks, no results recorded
						}
					case outcome.Exhausted:
						exhausted++
					}
				case <-time.After(waitFor):
					t.Fatalf("exhausted %d of %d", exhausted, n)
				}
			}
			if len(dispatched) != 2*n {
				t.Fatalf("%d steps dispatched, want %d", len(dispatched), 2*n)
			}
			for k, c := range dispatched {
				if c != 1 && !inDoubt[k] {
					t.Errorf("step %s dispatched %d times, not in doubt", k, c)
				}
			}
		})
	}
}

func TestActiveAndFind(t *testing.T) {
	r := newRigWith(t, strings.ReplaceAll(testPolicy, "wait: 1s", "wait: 1m"))
	w := r.startWorker(t, nil)
	r.publish("alerts.prometheus", `{"id":"pg-down","status":"firing","labels":{"team":"db","cluster":"pg1"}}`)
	id := r.expect("started 0", "dispatched 0")[0].EscalationID
	ctx := context.Background()

	list, err := w.eng.Active(ctx)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].Step != 0 || list[0].NextAt.IsZero() {
		t.Fatalf("Active = %+v, %v", list, err)
	}
	d, err := w.eng.Find(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Timeline) != 2 || d.Timeline[0].Event != outcome.Started || d.Timeline[1].Event != outcome.Dispatched ||
		d.Escalation == nil || d.Escalation.ID != id || len(d.Calls) != 1 {
		t.Fatalf("Find = %+v", d)
	}
	for _, bad := range []string{"nope", "0123456789abcdef01234567-9"} {
		if _, err := w.eng.Find(ctx, bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("Find(%q) = %v, want ErrNotFound", bad, err)
		}
	}
}

func TestAnsweredAcknowledges(t *testing.T) {
	r := newRigWith(t, `
name: db
match: {labels: {team: db}}
acknowledge_on_answer: true
people:
  aiko: {phone: "+81 80-1234-5678"}
  kenji: {phone: "+81 90-1111-2222"}
steps:
  - notify: [aiko, kenji]
    strategy: broadcast
    via: [{yemot: {ivr_path: "ivr2:/1/100", ring: 30s}}]
    wait: 1m
  - notify: [kenji]
    strategy: single
    via: [{yemot: {ivr_path: "ivr2:/1/100"}}]
    wait: 1m
`)
	yc, err := yemot.New(yemot.Config{BaseURL: r.yem.URL(), Token: r.yem.Token(), CheckAnswered: true})
	if err != nil {
		t.Fatal(err)
	}
	p := yc.Provider()
	ac, ok := p.(dispatch.AnswerChecker)
	if !ok {
		t.Fatal("yemot with CheckAnswered is not an AnswerChecker")
	}
	r.answerers = map[string]dispatch.AnswerChecker{yemot.Name: ac}
	d, err := dispatch.New(dispatch.Config{Providers: map[string]dispatch.Provider{yemot.Name: p}})
	if err != nil {
		t.Fatal(err)
	}
	r.startWorker(t, d)
	r.publish("alerts.prometheus", `{"id":"pg-down","status":"firing","labels":{"team":"db"}}`)
	r.expect("started 0", "dispatched 0")
	// Kenji picks up: Yemot reports his number bridged.
	if n := r.yem.SetEntryStatus("00819011112222", "bridged"); n != 1 {
		t.Fatalf("set status on %d campaigns", n)
	}
	got := r.expect("answered 0", "acknowledged 0")
	if got[0].By != "kenji" || got[0].Provider != "yemot" || got[1].By != "kenji" {
		t.Fatalf("answered %+v, acknowledged %+v", got[0], got[1])
	}
	if n := len(r.yem.Campaigns()); n != 1 {
		t.Fatalf("%d campaigns, want 1 (the answer stopped the escalation)", n)
	}
}

func TestCountActive(t *testing.T) {
	r := newRigWith(t, strings.ReplaceAll(testPolicy, "wait: 1s", "wait: 1m"))
	w := r.startWorker(t, nil)
	for _, c := range []string{"a", "b", "c"} {
		r.publish("alerts.prometheus", fmt.Sprintf(`{"id":"%s","status":"firing","labels":{"team":"db","cluster":"%s"}}`, c, c))
		r.expect("started 0", "dispatched 0")
	}
	r.publish("alerts.prometheus", `{"id":"b","status":"resolved"}`)
	r.expect("resolved 0")
	n, err := w.eng.CountActive(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("CountActive = %d, %v; want 2", n, err)
	}
}

// TestLeaseRenewedWhilePlacing: a worker placing a slow step keeps renewing
// its lease, so no other worker takes the step over while it lives.
func TestLeaseRenewedWhilePlacing(t *testing.T) {
	r := newRig(t)
	fake := clock.NewFake(time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC))
	r.clock = fake
	b := &blockFirst{entered: make(chan struct{}), release: make(chan struct{})}
	r.startWorker(t, b)
	defer close(b.release)
	kv, err := r.js.KeyValue(context.Background(), natsx.BucketEscalations)
	if err != nil {
		t.Fatal(err)
	}
	watch, err := kv.WatchFiltered(context.Background(), []string{"e.>"})
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Stop()
	r.fireUntilHeld(b.entered)
	const ttl = time.Second // the rig's LeaseTTL
	for i := range 3 {
		fake.WaitForWaiters(1) // the renewal's timer
		fake.Advance(ttl / 3)
		want := fake.Now().Add(ttl)
		for {
			var u jetstream.KeyValueEntry
			select {
			case u = <-watch.Updates():
			case <-time.After(waitFor):
				t.Fatalf("renewal %d: lease never moved to %s", i, want)
			}
			if u == nil {
				continue
			}
			var esc Escalation
			if err := json.Unmarshal(u.Value(), &esc); err != nil {
				t.Fatal(err)
			}
			if esc.Intent != nil && esc.Intent.LeaseUntil.Equal(want) {
				break
			}
		}
	}
}

// TestProcessCrashAndRestart: the whole process — worker and embedded
// server — dies mid-escalation, between two steps. A new one on the same
// store carries on: the durable timer fires and step 2 runs once.
func TestProcessCrashAndRestart(t *testing.T) {
	dir := t.TempDir()
	s1 := natstest.RunServer(t, dir)
	r1 := newRigOn(t, s1, strings.ReplaceAll(testPolicy, "wait: 1s", "wait: 2s"))
	w := r1.startWorker(t, nil)
	kv, err := r1.js.KeyValue(context.Background(), natsx.BucketEscalations)
	if err != nil {
		t.Fatal(err)
	}
	watch, err := kv.WatchFiltered(context.Background(), []string{"e.>"})
	if err != nil {
		t.Fatal(err)
	}
	r1.publish("alerts.prometheus", `{"id":"pg-down","status":"firing","labels":{"team":"db","cluster":"pg1"}}`)
	started := r1.expect("started 0", "dispatched 0")[0]
	// Wait until step 1's result is recorded (outside the in-doubt window).
	for recorded := false; !recorded; {
		select {
		case u := <-watch.Updates():
			var esc Escalation
			if u != nil && json.Unmarshal(u.Value(), &esc) == nil {
				recorded = esc.Intent == nil && len(esc.Calls) == 1
			}
		case <-time.After(waitFor):
			t.Fatal("step 1's result never recorded")
		}
	}
	watch.Stop()
	// Crash: no graceful stop, the server goes with the process.
	w.nc.Close()
	s1.Shutdown()
	s1.WaitForShutdown()

	s2 := natstest.RunServer(t, dir)
	r2 := newRigOn(t, s2, strings.ReplaceAll(testPolicy, "wait: 1s", "wait: 2s"))
	r2.startWorker(t, nil)
	got := r2.expect("dispatched 1", "exhausted 1")
	if got[0].EscalationID != started.EscalationID || got[0].InDoubt {
		t.Fatalf("after restart %+v, want escalation %s continued, not in doubt", got[0], started.EscalationID)
	}
	if n := len(r1.iot.Calls()) + len(r2.iot.Calls()); n != 2 {
		t.Fatalf("%d IoTCall calls in all, want 2 (one per step)", n)
	}
}

// TestRunningEscalationKeepsItsPolicy: editing the policies changes new
// escalations, not the ones already calling people.
func TestRunningEscalationKeepsItsPolicy(t *testing.T) {
	r := newRig(t)
	r.startWorker(t, nil)
	r.publish("alerts.prometheus", `{"id":"old","status":"firing","labels":{"team":"db","cluster":"pg1"}}`)
	r.expect("started 0", "dispatched 0")
	// The file changes: step 2's rotation now starts with kenji.
	edited := strings.Replace(testPolicy, "  - notify: [aiko, kenji]\n    strategy: rotation", "  - notify: [kenji, aiko]\n    strategy: rotation", 1)
	if edited == testPolicy {
		t.Fatal("the edit did not apply")
	}
	ps, err := policy.ParseWith(policy.Options{Providers: providers.Kinds()}, "db.yaml", []byte(edited))
	if err != nil {
		t.Fatal(err)
	}
	set, err := policy.NewSet(ps)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.set = set
	r.mu.Unlock()
	got := r.expect("dispatched 1")[0]
	if got.People[0].Name != "aiko" {
		t.Fatalf("step 2 called %+v: the running escalation took the edited policy", got.People)
	}
	r.expect("exhausted 1")
	r.publish("alerts.prometheus", `{"id":"new","status":"firing","labels":{"team":"db","cluster":"pg2"}}`)
	r.expect("started 0", "dispatched 0")
	if got := r.expect("dispatched 1")[0]; got.People[0].Name != "kenji" {
		t.Fatalf("a new escalation called %+v: want the edited policy", got.People)
	}
}
