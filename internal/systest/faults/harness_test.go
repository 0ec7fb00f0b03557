package faults

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/dispatch/ccai/ccaisim"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall/iotcallsim"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot/yemotsim"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/outcome"
)

var long = flag.Bool("faults.long", false, "run the long form of the fault suite (more alerts, more kills, a minute of IoTCall 5xx; ~10 min)")

// pick returns the short or the long form's value.
func pick[T any](short, lng T) T {
	if *long {
		return lng
	}
	return short
}

// policiesDir holds the suite's policies: one step, a wait of 1-3 s, no
// repeat, so that every escalation ends (exhausted) quickly. No group_by:
// each alert id gets its own escalation.
var policiesDir = func() string {
	d, err := filepath.Abs(filepath.Join("testdata", "policies"))
	if err != nil {
		panic(err)
	}
	return d
}()

// Fake credentials of the simulated accounts (never printed).
const (
	iotcallAuth = "faults-iotcall-auth"
	ccaiKey     = "faults-ccai-key"
	ccaiSecret  = "faults-ccai-secret"
)

// gateMode is what a gate does with a request.
type gateMode int32

const (
	gatePass  gateMode = iota // to the simulator
	gateFail                  // answer 503 without reaching it
	gateStall                 // hang until the client gives up
)

// gate stands in front of a simulator and can take the provider down for as
// long as a test wants (the simulators' FailNext and StallNext count
// requests; an outage "for a minute" is a time).
type gate struct {
	mode    atomic.Int32
	refused atomic.Int64
	next    http.Handler
	closing chan struct{}
}

func newGate(next http.Handler) *gate { return &gate{next: next, closing: make(chan struct{})} }

func (g *gate) set(m gateMode) { g.mode.Store(int32(m)) }

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch gateMode(g.mode.Load()) {
	case gateFail:
		g.refused.Add(1)
		http.Error(w, "service unavailable (fault test)", http.StatusServiceUnavailable)
	case gateStall:
		g.refused.Add(1)
		// The server notices a client that gave up only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-g.closing:
		}
	default:
		g.next.ServeHTTP(w, r)
	}
}

// sims are the three provider simulators, in the test process (so that what
// they recorded survives a worker killed with SIGKILL), each behind a gate.
type sims struct {
	iot   *iotcallsim.Sim
	yemot *yemotsim.Server
	ccai  *ccaisim.Server

	iotGate, yemotGate, ccaiGate *gate
	iotSrv, yemotSrv, ccaiSrv    *httptest.Server
}

func newSims(t *testing.T) *sims {
	t.Helper()
	s := &sims{
		iot:   iotcallsim.New(iotcallAuth),
		yemot: yemotsim.New(yemotsim.Config{}),
		// The platform's limit is 10 requests a second; the client keeps it.
		ccai: ccaisim.New(ccaisim.Config{Key: ccaiKey, Secret: ccaiSecret}),
	}
	// The rules, agents of testdata/policies (the call type: strategy single).
	s.iot.AddRule("faults-single", iotcallsim.Normal)
	s.iot.AddRule("faults-chain", iotcallsim.Normal)
	s.ccai.SetAgent("desk-1@example.com", ccaisim.Available)
	s.ccai.SetAgent("desk-2@example.com", ccaisim.Available)

	s.iotGate = newGate(s.iot)
	s.iotSrv = httptest.NewServer(s.iotGate)
	s.yemotGate = newGate(proxyTo(t, s.yemot.URL()))
	s.yemotSrv = httptest.NewServer(s.yemotGate)
	s.ccaiGate = newGate(proxyTo(t, s.ccai.URL()))
	s.ccaiSrv = httptest.NewServer(s.ccaiGate)
	t.Cleanup(func() {
		for _, g := range []*gate{s.iotGate, s.yemotGate, s.ccaiGate} {
			close(g.closing)
		}
		s.iot.Close()
		s.iotSrv.Close()
		s.yemotSrv.Close()
		s.ccaiSrv.Close()
		s.yemot.Close()
		s.ccai.Close()
	})
	return s
}

func proxyTo(t *testing.T, raw string) http.Handler {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "" // the client sends the whole path (/ym/api/...)
	return httputil.NewSingleHostReverseProxy(u)
}

// env is the providers' environment pointing at the gates.
func (s *sims) env() map[string]string {
	return map[string]string{
		"IOTCALL_AUTH_CODE":   iotcallAuth,
		"IOTCALL_BASE_URL":    s.iotSrv.URL,
		"IOTCALL_COUNTRY_IDS": "81=1",
		"YEMOT_TOKEN":         s.yemot.Token(),
		"YEMOT_BASE_URL":      s.yemotSrv.URL + "/ym/api",
		"CCAI_COMPANY_KEY":    ccaiKey,
		"CCAI_COMPANY_SECRET": ccaiSecret,
		"CCAI_BASE_URL":       s.ccaiSrv.URL,
	}
}

// calls are the calls the simulators accepted, per provider.
type calls struct {
	IoTCall, Yemot, CCAI int
	// refs are the provider references of Yemot campaigns and CCAI calls,
	// which the outcomes carry too.
	refs []string
}

func (c calls) total() int { return c.IoTCall + c.Yemot + c.CCAI }

func (s *sims) calls() calls {
	var c calls
	c.IoTCall = len(s.iot.Calls())
	for _, cp := range s.yemot.Campaigns() {
		c.Yemot++
		c.refs = append(c.refs, cp.ID)
	}
	for _, cl := range s.ccai.Calls() {
		c.CCAI++
		c.refs = append(c.refs, strconv.Itoa(cl.ID))
	}
	return c
}

// alertBody is one firing alert of the suite, for route (a policy of
// testdata/policies).
func alertBody(id, route string) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "status": "firing", "severity": "critical", "summary": "fault test " + id,
		"labels": map[string]string{"route": route, "alert": id},
	})
	return b
}

// publisher publishes alerts to alerts.faults with a Nats-Msg-Id, retrying
// each until JetStream acknowledged it (across server restarts: the
// connection reconnects for ever).
type publisher struct {
	nc *nats.Conn
	js jetstream.JetStream

	mu   sync.Mutex
	sent []string
}

func connect(t *testing.T, urls string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(urls, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func newPublisher(t *testing.T, urls string) *publisher {
	nc, js := connect(t, urls)
	return &publisher{nc: nc, js: js}
}

// publish stores one alert, retrying until ctx ends.
func (p *publisher) publish(ctx context.Context, id, route string) error {
	msg := &nats.Msg{Subject: "alerts.faults", Data: alertBody(id, route), Header: nats.Header{}}
	msg.Header.Set(nats.MsgIdHdr, id)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := p.js.PublishMsg(pctx, msg)
		cancel()
		if err == nil {
			p.mu.Lock()
			p.sent = append(p.sent, id)
			p.mu.Unlock()
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("publish %s: %w", id, err)
		}
		// A refused publish (no responders while the server restarts)
		// comes back at once: pace the retries.
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// publishAsync stores many alerts quickly (a backlog), each with its id.
func (p *publisher) publishAsync(ctx context.Context, ids []string, route func(int) string) error {
	const window = 256
	pending := make([]jetstream.PubAckFuture, 0, window)
	flush := func() error {
		for _, f := range pending {
			select {
			case <-f.Ok():
				p.mu.Lock()
				p.sent = append(p.sent, f.Msg().Header.Get(nats.MsgIdHdr))
				p.mu.Unlock()
			case <-f.Err():
				// Stored once at most (the message id): publish it the slow way.
				m := f.Msg()
				var ev struct {
					ID     string            `json:"id"`
					Labels map[string]string `json:"labels"`
				}
				_ = json.Unmarshal(m.Data, &ev)
				if err := p.publish(ctx, ev.ID, ev.Labels["route"]); err != nil {
					return err
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		pending = pending[:0]
		return nil
	}
	for i, id := range ids {
		msg := &nats.Msg{Subject: "alerts.faults", Data: alertBody(id, route(i)), Header: nats.Header{}}
		msg.Header.Set(nats.MsgIdHdr, id)
		f, err := p.js.PublishMsgAsync(msg)
		if err != nil {
			if err := flush(); err != nil {
				return err
			}
			if err := p.publish(ctx, id, route(i)); err != nil {
				return err
			}
			continue
		}
		pending = append(pending, f)
		if len(pending) == window {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func (p *publisher) sentIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.sent...)
}

// stepKey is one run of one step of one escalation.
type stepKey struct {
	esc        string
	step, loop int
}

// escRecord is what the outcome stream told about one escalation.
type escRecord struct {
	alert      string
	final      string // exhausted, acknowledged, resolved; "" while running
	dispatched map[stepKey][]string
	failed     int
	events     []string
	started    bool
}

// ledger reads the ESCALATIONS stream with an ordered consumer and keeps
// what it says about every escalation.
type ledger struct {
	mu      sync.Mutex
	started map[string][]string // alert id → escalations started for it
	byAlert map[string][]string // alert id → escalations any outcome names
	escs    map[string]*escRecord
	// inDoubt counts the outcomes of in-doubt step runs that ended one
	// provider's part (dispatched or dispatch_failed): one per re-run with
	// the suite's single-provider policies.
	inDoubt   int
	unmatched int
	// failures counts dispatch_failed outcomes by provider and error.
	failures map[string]int
	events   map[string]int
	changed  chan struct{}
	stop     func()
}

func newLedger(t *testing.T, js jetstream.JetStream) *ledger {
	t.Helper()
	l := &ledger{started: map[string][]string{}, byAlert: map[string][]string{}, escs: map[string]*escRecord{}, events: map[string]int{},
		failures: map[string]int{},
		changed:  make(chan struct{}, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var cons jetstream.Consumer
	var err error
	// The stream exists once a worker (or natsx.EnsureEngine) made it.
	for {
		cons, err = js.OrderedConsumer(ctx, natsx.StreamOutcomes, jetstream.OrderedConsumerConfig{})
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("read %s: %v", natsx.StreamOutcomes, err)
		case <-time.After(200 * time.Millisecond): // nothing to wait on: the stream is made by another process
		}
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { l.add(m.Data()) })
	if err != nil {
		t.Fatal(err)
	}
	l.stop = cc.Stop
	t.Cleanup(cc.Stop)
	return l
}

func (l *ledger) add(data []byte) {
	var o outcome.Outcome
	if err := json.Unmarshal(data, &o); err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events[o.Event]++
	if o.Event == outcome.Unmatched {
		l.unmatched++
		return
	}
	r := l.escs[o.EscalationID]
	if r == nil {
		r = &escRecord{alert: o.AlertID, dispatched: map[stepKey][]string{}}
		l.escs[o.EscalationID] = r
		l.byAlert[o.AlertID] = append(l.byAlert[o.AlertID], o.EscalationID)
	}
	r.events = append(r.events, o.Event)
	if o.InDoubt && (o.Event == outcome.Dispatched || o.Event == outcome.DispatchFailed) {
		l.inDoubt++
	}
	switch o.Event {
	case outcome.Started:
		r.started = true
		l.started[o.AlertID] = append(l.started[o.AlertID], o.EscalationID)
	case outcome.Dispatched:
		k := stepKey{o.EscalationID, o.Step, o.Loop}
		r.dispatched[k] = append(r.dispatched[k], o.References...)
	case outcome.DispatchFailed:
		r.failed++
		l.failures[o.Provider+": "+o.Error]++
	case outcome.Exhausted, outcome.Acknowledged, outcome.Resolved:
		r.final = o.Event
	}
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// pending returns the alerts of ids whose escalation has not ended.
func (l *ledger) pending(ids []string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, id := range ids {
		done := false
		for _, e := range l.byAlert[id] {
			if r := l.escs[e]; r != nil && r.final != "" {
				done = true
			}
		}
		if !done {
			out = append(out, id)
		}
	}
	return out
}

// waitFinal waits until every alert of ids has an escalation that ended, or
// the deadline; it returns the alerts still pending.
func (l *ledger) waitFinal(t *testing.T, ids []string, deadline time.Duration) []string {
	t.Helper()
	timeout := time.After(deadline)
	for {
		p := l.pending(ids)
		if len(p) == 0 {
			return nil
		}
		select {
		case <-l.changed:
		case <-timeout:
			return p
		}
	}
}

// figures are one scenario's counts, printed as a FAULTS JSON line.
type figures struct {
	Scenario             string  `json:"scenario"`
	AlertsSent           int     `json:"alerts_sent"`
	EscalationsStarted   int     `json:"escalations_started"`
	EscalationsCompleted int     `json:"escalations_completed"`
	Exhausted            int     `json:"exhausted"`
	DispatchFailed       int     `json:"dispatch_failed"`
	StepsDispatched      int     `json:"steps_dispatched"`
	CallsPlaced          int     `json:"calls_placed"`
	CallsIoTCall         int     `json:"calls_iotcall"`
	CallsYemot           int     `json:"calls_yemot"`
	CallsCCAI            int     `json:"calls_ccai"`
	Lost                 int     `json:"lost"`
	StartedTwice         int     `json:"started_twice"`
	Duplicated           int     `json:"duplicated"`
	InDoubt              int     `json:"in_doubt"`
	Unexplained          int     `json:"unexplained"`
	Silent               int     `json:"silent"`
	StartedMissing       int     `json:"started_missing"`
	Unattributed         int     `json:"unattributed"`
	Kills                int     `json:"kills,omitempty"`
	Restarts             int     `json:"restarts,omitempty"`
	ProviderRefused      int64   `json:"provider_requests_refused,omitempty"`
	Seconds              float64 `json:"seconds"`
}

// settle waits for every alert sent to reach a final outcome, counts, logs
// the figures (t.Logf and one FAULTS JSON line) and fails the test when an
// alert is lost or a duplicate is not explained by an in-doubt step.
func settle(t *testing.T, name string, js jetstream.JetStream, s *sims, sent []string, deadline time.Duration, start time.Time, f figures) figures {
	t.Helper()
	l := newLedger(t, js)
	pending := l.waitFinal(t, sent, deadline)
	l.stop()
	c := s.calls()

	l.mu.Lock()
	defer l.mu.Unlock()
	f.Scenario, f.AlertsSent = name, len(sent)
	f.Lost = len(pending)
	f.InDoubt = l.inDoubt
	f.Exhausted = l.events[outcome.Exhausted]
	f.DispatchFailed = l.events[outcome.DispatchFailed]
	f.CallsPlaced, f.CallsIoTCall, f.CallsYemot, f.CallsCCAI = c.total(), c.IoTCall, c.Yemot, c.CCAI
	known := map[string]bool{}
	for _, id := range sent {
		known[id] = true
		if n := len(l.started[id]); n > 1 {
			f.StartedTwice++
		}
	}
	refsSeen := map[string]bool{}
	for _, r := range l.escs {
		if !known[r.alert] {
			continue
		}
		if r.started {
			f.EscalationsStarted++
		} else {
			f.StartedMissing++
		}
		if r.final != "" {
			f.EscalationsCompleted++
		}
		if len(r.dispatched) == 0 && r.failed == 0 {
			f.Silent++
		}
		for _, refs := range r.dispatched {
			f.StepsDispatched++
			for _, ref := range refs {
				refsSeen[ref] = true
			}
		}
	}
	// Simulators cannot tell which escalation a call is for: every call
	// beyond one per step dispatched is a duplicate, and only in-doubt
	// re-runs may explain one. Yemot campaigns and CCAI calls carry ids the
	// outcomes name too: a call no outcome names was placed by a run that
	// died before it could say so (its step must then have been re-run in
	// doubt, which the count above already requires).
	f.Duplicated = f.CallsPlaced - f.StepsDispatched
	for _, ref := range c.refs {
		if !refsSeen[ref] {
			f.Unattributed++
		}
	}
	if f.Duplicated > f.InDoubt {
		f.Unexplained = f.Duplicated - f.InDoubt
	}
	if f.Duplicated < 0 {
		t.Errorf("%s: %d steps dispatched but only %d calls at the simulators", name, f.StepsDispatched, f.CallsPlaced)
	}
	f.Seconds = time.Since(start).Round(100 * time.Millisecond).Seconds()
	f.ProviderRefused = s.iotGate.refused.Load() + s.yemotGate.refused.Load() + s.ccaiGate.refused.Load()

	line, _ := json.Marshal(f)
	t.Logf("%s: sent %d, started %d, completed %d (exhausted %d), steps dispatched %d, calls placed %d "+
		"(iotcall %d, yemot %d, ccai %d), dispatch_failed %d, silent %d, lost %d, duplicated %d, in doubt %d",
		name, f.AlertsSent, f.EscalationsStarted, f.EscalationsCompleted, f.Exhausted, f.StepsDispatched,
		f.CallsPlaced, f.CallsIoTCall, f.CallsYemot, f.CallsCCAI, f.DispatchFailed, f.Silent, f.Lost, f.Duplicated, f.InDoubt)
	for why, n := range l.failures {
		t.Logf("%s: dispatch_failed ×%d: %s", name, n, why)
	}
	t.Logf("FAULTS %s", line)
	fmt.Printf("FAULTS %s\n", line)
	if f.Lost != 0 {
		sort.Strings(pending)
		if len(pending) > 10 {
			pending = pending[:10]
		}
		t.Errorf("%s: %d alerts lost (no final outcome by the deadline), e.g. %v", name, f.Lost, pending)
		for _, id := range pending {
			for _, e := range l.byAlert[id] {
				t.Logf("  %s: escalation %s, outcomes %v", id, e, l.escs[e].events)
			}
			t.Logf("  %s: record in the bucket: %s", id, record(js, id))
		}
	}
	if f.StartedMissing != 0 {
		t.Errorf("%s: %d escalations have outcomes but no started outcome", name, f.StartedMissing)
	}
	if f.StartedTwice != 0 {
		t.Errorf("%s: %d alerts started more than one escalation", name, f.StartedTwice)
	}
	if f.Duplicated > f.InDoubt {
		t.Errorf("%s: %d duplicated calls, only %d in-doubt step runs explain them", name, f.Duplicated, f.InDoubt)
	}
	if f.Silent != 0 {
		t.Errorf("%s: %d escalations neither dispatched nor reported dispatch_failed", name, f.Silent)
	}
	if l.unmatched != 0 {
		t.Errorf("%s: %d alerts matched no policy", name, l.unmatched)
	}
	return f
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// binPath is the escalator binary TestMain built.
var binPath string

// worker is one escalator process.
type worker struct {
	cmd    *exec.Cmd
	ready  chan struct{}
	exited chan struct{}
}

// startWorker runs `escalator run args...` with env (and nothing else of the
// test's environment), appending its log to logPath, and waits until it says
// it is ready.
func startWorker(t *testing.T, logPath string, env map[string]string, args ...string) *worker {
	t.Helper()
	if binPath == "" {
		t.Fatal("no escalator binary (TestMain did not build it)")
	}
	cmd := exec.Command(binPath, append([]string{"run"}, args...)...)
	cmd.Env = []string{"HOME=" + os.TempDir(), "TMPDIR=" + os.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = logf
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &worker{cmd: cmd, ready: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(w.exited)
		defer logf.Close()
		scanLog(stderr, logf, w.ready)
		_ = cmd.Wait()
	}()
	t.Cleanup(w.kill)
	select {
	case <-w.ready:
	case <-w.exited:
		t.Fatalf("escalator exited before it was ready; its log: %s", logPath)
	case <-time.After(time.Minute):
		t.Fatalf("escalator not ready after a minute; its log: %s", logPath)
	}
	return w
}

// kill sends SIGKILL and waits for the process to be gone.
func (w *worker) kill() {
	select {
	case <-w.exited:
		return
	default:
	}
	_ = w.cmd.Process.Kill()
	<-w.exited
}

// record is the escalation record of alertID in the escalations bucket, in
// short: its id, status, step and intent (found through the a.<hash> index
// the engine keeps; the hash is the engine's: SHA-256 of the id and a zero
// byte, the first 12 bytes in hex).
func record(js jetstream.JetStream, alertID string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, natsx.BucketEscalations)
	if err != nil {
		return err.Error()
	}
	h := sha256.Sum256(append([]byte(alertID), 0))
	idx, err := kv.Get(ctx, "a."+hex.EncodeToString(h[:12]))
	if err != nil {
		return "index: " + err.Error()
	}
	e, err := kv.Get(ctx, string(idx.Value()))
	if err != nil {
		return "record: " + err.Error()
	}
	var esc struct {
		ID     string          `json:"id"`
		State  json.RawMessage `json:"state"`
		Intent json.RawMessage `json:"intent"`
		Calls  json.RawMessage `json:"calls"`
	}
	if err := json.Unmarshal(e.Value(), &esc); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("id %s (revision %d) state %s intent %s calls %s", esc.ID, e.Revision(), esc.State, esc.Intent, esc.Calls)
}
