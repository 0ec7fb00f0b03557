package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/escalator-oss/escalator/internal/app"
	"github.com/escalator-oss/escalator/internal/app/apptest"
	"github.com/escalator-oss/escalator/internal/outcome"
)

// The CLI's tests run the commands against a real worker, started in the
// test's process: embedded NATS, simulated providers, its HTTP API on a
// loopback port, with a token.

// waitFor bounds every wait of these tests; nothing waits by sleeping.
const waitFor = 20 * time.Second

// testToken is the worker's --http-token in these tests.
const testToken = "t0ken-the-cli-must-never-print"

// cliPolicies: db pages aiko, then aiko and kenji one after another; web
// pages mira. Steps wait long, so escalations stay where the test put them.
var cliPolicies = []string{`name: db
match:
  labels: {team: db}
people:
  aiko: {phone: "+81 80-1234-5678"}
  kenji: {phone: "+81 90-1111-2222"}
steps:
  - notify: [aiko]
    via:
      - iotcall: {rule: db-first}
    wait: 30m
  - notify: [aiko, kenji]
    strategy: rotation
    via:
      - iotcall: {rule: db-rotation}
    wait: 30m
`, `name: web
match:
  labels: {team: web}
people:
  mira: {phone: "+81 80-9999-0000"}
steps:
  - notify: [mira]
    via:
      - iotcall: {rule: web-oncall}
    wait: 30m
`}

// worker is a running worker and a NATS connection to it that sees every
// outcome.
type worker struct {
	app      *app.App
	url      string
	nc       *nats.Conn
	outcomes chan outcome.Outcome
}

// startWorker runs a worker on the policies in dir ("" for cliPolicies)
// until the test ends.
func startWorker(t *testing.T, dir string) *worker {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
		for i, p := range cliPolicies {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%d.yaml", i)), []byte(p), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := app.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Policies = dir
	cfg.SimulateProviders = true
	cfg.NATSListen = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.HTTPToken = testToken
	cfg.ShutdownGrace = 2 * time.Second
	a := apptest.Run(t, cfg, waitFor)
	w := &worker{app: a, url: "http://" + a.HTTPAddr(), outcomes: make(chan outcome.Outcome, 1000)}
	var err error
	if w.nc, err = nats.Connect(a.NATSURL()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.nc.Close)
	if _, err := w.nc.Subscribe("escalations.>", func(m *nats.Msg) {
		var o outcome.Outcome
		if json.Unmarshal(m.Data, &o) == nil {
			w.outcomes <- o
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return w
}

// fire publishes an alert to JetStream (stored when it returns) and waits
// for the outcome want of the escalation it starts.
func (w *worker) fire(t *testing.T, id, team, want string) outcome.Outcome {
	t.Helper()
	w.publish(t, fmt.Sprintf(`{"id":%q,"status":"firing","summary":"%s is down","labels":{"team":%q}}`, id, id, team))
	return w.await(t, func(o outcome.Outcome) bool { return o.AlertID == id && o.Event == want })
}

// publish stores an alert event in the ALERTS stream.
func (w *worker) publish(t *testing.T, event string) {
	t.Helper()
	msg, err := w.nc.Request("alerts.test", []byte(event), waitFor)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(msg.Data, []byte(`"error"`)) {
		t.Fatalf("publish: %s", msg.Data)
	}
}

// await returns the first outcome from now on that ok accepts.
func (w *worker) await(t *testing.T, ok func(outcome.Outcome) bool) outcome.Outcome {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case o := <-w.outcomes:
			if ok(o) {
				return o
			}
		case <-deadline:
			t.Fatal("the outcome waited for did not come")
		}
	}
}

// env is a command's environment: the worker and its token, and extra
// variables ("NAME=value").
func (w *worker) env(extra ...string) func(string) string {
	vars := map[string]string{"ESCALATOR_SERVER": w.url, "ESCALATOR_TOKEN": testToken}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return func(k string) string { return vars[k] }
}

// result is what a command did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// cmd runs escalator with args in env, as main does.
func cmd(t *testing.T, env func(string) string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, &out, &errb, env)
	r := result{code, out.String(), errb.String()}
	if strings.Contains(r.stdout+r.stderr, testToken) {
		t.Errorf("escalator %s printed the token:\n%s", strings.Join(args, " "), r)
	}
	return r
}

// must runs a command that must exit 0 and returns its stdout.
func (w *worker) must(t *testing.T, args ...string) string {
	t.Helper()
	r := cmd(t, w.env(), args...)
	if r.code != 0 {
		t.Fatalf("escalator %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// wantIn fails unless s holds every one of wants.
func wantIn(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// lines is an io.Writer that tests can wait on: a command running in a
// goroutine writes to it, the test waits for a line.
type lines struct {
	mu      sync.Mutex
	buf     strings.Builder
	changed chan struct{}
}

func newLines() *lines { return &lines{changed: make(chan struct{}, 1)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitCount waits until n lines hold every one of subs.
func (l *lines) waitCount(t *testing.T, n int, subs ...string) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		if l.count(subs...) >= n {
			return
		}
		select {
		case <-l.changed:
		case <-deadline:
			t.Fatalf("no %d lines with %q within %s:\n%s", n, subs, waitFor, l.String())
		}
	}
}

func (l *lines) wait(t *testing.T, subs ...string) { t.Helper(); l.waitCount(t, 1, subs...) }

// count is how many lines hold every one of subs.
func (l *lines) count(subs ...string) int {
	n := 0
	for _, line := range strings.Split(l.String(), "\n") {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			n++
		}
	}
	return n
}
