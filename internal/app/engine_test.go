package app

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/providers"
)

// runStarted runs a until ctx ends, once it has started; the channel gets
// what Run returns.
func runStarted(t *testing.T, ctx context.Context, a *App) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-a.Started():
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(waitFor):
		t.Fatal("not started")
	}
	return done
}

// startEngineApp runs a worker whose alerts go to the engine.
func startEngineApp(t *testing.T, cfg Config) *App {
	t.Helper()
	a, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := runStarted(t, ctx, a)
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v", err)
			}
		case <-time.After(waitFor):
			t.Error("shutdown took too long")
		}
	})
	return a
}

func TestSimulatedProvidersEndToEnd(t *testing.T) {
	a := startEngineApp(t, testConfig(t, t.TempDir()))
	if a.Sims() == nil {
		t.Fatal("no simulators with SimulateProviders")
	}
	nc, err := nats.Connect(a.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	events := make(chan outcome.Outcome, 100)
	sub, err := nc.Subscribe("escalations.>", func(m *nats.Msg) {
		var o outcome.Outcome
		if err := json.Unmarshal(m.Data, &o); err != nil {
			t.Errorf("outcome %s: %v", m.Data, err)
			return
		}
		events <- o
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("alerts.test", []byte(`{"id":"db-down","status":"firing","labels":{"team":"db"}}`)); err != nil {
		t.Fatal(err)
	}
	var seen []string
	var dispatched outcome.Outcome
	for dispatched.Event == "" {
		select {
		case o := <-events:
			seen = append(seen, o.Event)
			if o.Event == outcome.Dispatched {
				dispatched = o
			}
		case <-time.After(waitFor):
			t.Fatalf("no dispatched event; saw %v", seen)
		}
	}
	if seen[0] != outcome.Started {
		t.Errorf("events %v: want started first", seen)
	}
	if dispatched.Provider != "iotcall" || dispatched.Policy != "db" || dispatched.AlertID != "db-down" {
		t.Errorf("dispatched %+v: want iotcall, policy db, alert db-down", dispatched)
	}
	calls := providers.SimOf[*iotcall.Sim](a.Sims().Sims).Calls()
	if len(calls) != 1 {
		t.Fatalf("iotcall simulator calls %+v, want 1", calls)
	}
	if want := []string{"08012345678", "09011112222"}; calls[0].Rule != "db-rotation" || !slices.Equal(calls[0].Tels, want) {
		t.Errorf("iotcall call %+v: want rule db-rotation ringing %v", calls[0], want)
	}
	var methods []string
	for _, r := range providers.SimOf[*iotcall.Sim](a.Sims().Sims).Requests() {
		methods = append(methods, r.Method+" "+r.Path)
	}
	if want := []string{"PUT /pattern/db-rotation/tel", "POST /pattern/db-rotation/call"}; !containsInOrder(methods, want) {
		t.Errorf("iotcall requests %v: want %v", methods, want)
	}
	if n := len(providers.SimOf[*yemot.Sim](a.Sims().Sims).Campaigns()); n != 0 {
		t.Errorf("yemot campaigns %d: the fallback ran although IoTCall answered", n)
	}
	// The engine's read API is routed (its content is the engine's test).
	if code, body := get(t, "http://"+a.HTTPAddr()+"/v1/escalations"); code == http.StatusNotFound {
		t.Errorf("GET /v1/escalations: 404 %s", body)
	}
}

// subscribeOutcomes delivers the outcome events published from now on.
func subscribeOutcomes(t *testing.T, a *App) (*nats.Conn, <-chan outcome.Outcome) {
	t.Helper()
	nc, err := nats.Connect(a.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	events := make(chan outcome.Outcome, 100)
	if _, err := nc.Subscribe("escalations.>", func(m *nats.Msg) {
		var o outcome.Outcome
		if err := json.Unmarshal(m.Data, &o); err == nil {
			events <- o
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return nc, events
}

func TestReloadOnSIGHUP(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	a := startEngineApp(t, cfg)
	web := `name: web
match:
  labels: {team: web}
people:
  mira: {phone: "+81 80-9999-0000"}
steps:
  - notify: [mira]
    strategy: single
    via:
      - iotcall: {rule: web-oncall}
    wait: 5m
`
	if err := os.WriteFile(filepath.Join(cfg.Policies, "web.yaml"), []byte(web), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitFor)
	for {
		if _, body := get(t, "http://"+a.HTTPAddr()+"/metrics"); strings.Contains(body, "escalator_policies_loaded 2") {
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("the new policy was not loaded after SIGHUP")
		}
	}
	nc, events := subscribeOutcomes(t, a)
	if err := nc.Publish("alerts.test", []byte(`{"id":"web-down","status":"firing","labels":{"team":"web"}}`)); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case o := <-events:
			if o.Event == outcome.Unmatched {
				t.Fatalf("alert unmatched after reload: %+v", o)
			}
			if o.Event != outcome.Dispatched {
				continue
			}
			// The simulator learnt the new policy's rule on reload.
			if o.Policy != "web" || o.Provider != "iotcall" {
				t.Fatalf("dispatched %+v: want policy web via iotcall", o)
			}
			cs := providers.SimOf[*iotcall.Sim](a.Sims().Sims).Calls()
			if len(cs) != 1 || cs[0].Rule != "web-oncall" || !slices.Equal(cs[0].Tels, []string{"08099990000"}) {
				t.Fatalf("iotcall calls %+v: want rule web-oncall ringing 08099990000", cs)
			}
			return
		case <-deadline:
			t.Fatal("no dispatch for the reloaded policy")
		}
	}
}

func containsInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestStartFailsWithUnconfiguredProvider(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.SimulateProviders = false
	// Yemot is configured; IoTCall, which the policy uses first, is not.
	cfg.Getenv = func(k string) string {
		return map[string]string{"YEMOT_TOKEN": "0770000000:do-not-print"}[k]
	}
	a, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err = a.Run(ctx)
	if err == nil {
		t.Fatal("started with a policy using an unconfigured provider")
	}
	msg := err.Error()
	for _, want := range []string{"provider iotcall is not configured", "steps[0].via[0]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "do-not-print") {
		t.Errorf("error %q shows the Yemot token", msg)
	}
	if strings.Contains(msg, "provider yemot") {
		t.Errorf("error %q blames the configured Yemot", msg)
	}
}

func TestStartFailsWithInvalidPolicies(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Policies = policyDir(t, "name: broken\nsteps: []\n")
	a, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "start without valid policies") {
		t.Fatalf("run with invalid policies: %v", err)
	}
}

// runServerAt starts a JetStream server on port (-1: any) with its store in dir.
func runServerAt(t *testing.T, dir string, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return s
}

// TestExternalNATSRestart: the NATS server a worker is connected to goes
// away and comes back on the same store; the worker reconnects and goes on,
// and what was stored before is still there.
func TestExternalNATSRestart(t *testing.T) {
	dir := t.TempDir()
	s := runServerAt(t, dir, -1)
	port := s.Addr().(*net.TCPAddr).Port
	url := s.ClientURL()
	t.Cleanup(func() { s.Shutdown() })

	cfg := testConfig(t, "")
	cfg.NATSURL, cfg.HTTPAddr = url, ""
	a := startEngineApp(t, cfg)

	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	dispatched := make(chan string, 10)
	if _, err := nc.Subscribe("escalations.*.dispatched", func(m *nats.Msg) {
		var o outcome.Outcome
		_ = json.Unmarshal(m.Data, &o)
		dispatched <- o.AlertID
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	publish := func(id string) {
		t.Helper()
		data := []byte(`{"id":"` + id + `","status":"firing","labels":{"team":"db"}}`)
		var err error
		for range 100 { // each try waits for the reconnect, up to 2s
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err = js.Publish(ctx, "alerts.test", data)
			cancel()
			if err == nil {
				return
			}
		}
		t.Fatalf("publish %s: %v", id, err)
	}
	waitDispatched := func(id string) {
		t.Helper()
		select {
		case got := <-dispatched:
			if got != id {
				t.Fatalf("dispatched %q, want %q", got, id)
			}
		case <-time.After(waitFor):
			t.Fatalf("%s never dispatched", id)
		}
	}
	publish("before")
	waitDispatched("before")

	s.Shutdown()
	s.WaitForShutdown()
	s = runServerAt(t, dir, port)

	publish("after")
	waitDispatched("after")
	if n := len(providers.SimOf[*iotcall.Sim](a.Sims().Sims).Calls()); n != 2 {
		t.Fatalf("%d IoTCall calls, want 2", n)
	}
	// Both escalations are in the store: the one from before the restart too.
	// (Counted from the stream's subjects: a key listing can miss a record
	// the worker is rewriting at that moment.)
	st, err := js.Stream(context.Background(), "KV_"+natsx.BucketEscalations)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter("$KV."+natsx.BucketEscalations+".e.>"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(info.State.Subjects); n != 2 {
		t.Fatalf("%d escalations stored, want 2", n)
	}
}
