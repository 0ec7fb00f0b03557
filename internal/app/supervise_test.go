package app

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oklog/run"
	"go.uber.org/zap"
)

// Tests of the worker as a set of supervised parts: a part that cannot
// start or fails later stops the whole worker, Run returns why, and
// nothing it started is left running.

// workerGoroutines returns the goroutines (id → stack) running code that a
// worker starts: this module's, its NATS connection's (nats.go), its HTTP
// server's. The embedded nats-server's are not counted: WaitForShutdown
// waits for its own, and a few of its stream loops end a moment later; a
// stopped server is checked by its port being free.
// The test's own goroutines (any with a test file in its stack, its
// creator included) are left out.
func workerGoroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		f := strings.Fields(header)
		if len(f) < 2 || f[0] != "goroutine" || strings.Contains(g, "_test.go:") {
			continue // the test's own
		}
		for _, mark := range []string{"escalator-oss/escalator/", "nats-io/nats.go", "net/http.(*Server).Serve", "net/http.(*conn).serve"} {
			if strings.Contains(g, mark) {
				out[f[1]] = g
				break
			}
		}
	}
	return out
}

// leftRunning returns the stacks of worker goroutines now that were not
// in before.
func leftRunning(before map[string]string) []string {
	var left []string
	for id, g := range workerGoroutines() {
		if _, ok := before[id]; !ok {
			left = append(left, g)
		}
	}
	return left
}

// freePort returns a loopback address nobody listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// assertFree fails unless addr can be listened on again.
func assertFree(t *testing.T, what, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("%s %s still taken after Run returned: %v", what, addr, err)
		return
	}
	_ = ln.Close()
}

// runUntilReturn runs a and waits (up to waitFor) for Run to return.
func runUntilReturn(t *testing.T, a *App, ctx context.Context) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(waitFor):
		t.Fatal("Run did not return")
		return nil
	}
}

// TestPortTakenStopsAtOnce: the HTTP port is in use. Run returns at once,
// with the address and the reason on one line, before it has started
// anything: no NATS store, no goroutine, the NATS port free.
func TestPortTakenStopsAtOnce(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.HTTPAddr = taken.Addr().String()
	cfg.NATSListen = freePort(t)
	a, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := workerGoroutines()
	err = runUntilReturn(t, a, context.Background())
	if err == nil {
		t.Fatal("Run returned nil with the HTTP port taken")
	}
	if want := "listen http " + cfg.HTTPAddr + ": address already in use"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %q is not EADDRINUSE", err)
	}
	select {
	case <-a.Started():
		t.Error("Started is closed: the worker said it was ready")
	default:
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the embedded NATS server was started before the port was taken (store: %v)", err)
	}
	assertFree(t, "NATS port", cfg.NATSListen)
	if left := leftRunning(before); len(left) > 0 {
		t.Errorf("%d goroutines left running:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}

// TestFailedPartStopsWorker: the HTTP server fails while the worker runs
// (its listener breaks). The worker stops as a whole, Run returns the
// server's error, and nothing is left running: the goroutines have ended,
// both ports are free, and the worker is not ready.
func TestFailedPartStopsWorker(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	a, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := workerGoroutines()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runStarted(t, ctx, a)
	httpAddr := a.HTTPAddr()
	if !a.isReady() {
		t.Fatal("not ready after start")
	}
	// The server's socket breaks: Serve returns an error.
	if err := a.httpLn.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(waitFor):
		t.Fatal("the worker went on without its HTTP server")
	}
	if err == nil || !strings.HasPrefix(err.Error(), "http server on "+httpAddr+": ") {
		t.Fatalf("Run returned %v, want the HTTP server's error", err)
	}
	if a.isReady() {
		t.Error("still ready after a part failed")
	}
	u, err := url.Parse(a.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	assertFree(t, "NATS port", u.Host)
	assertFree(t, "HTTP port", httpAddr)
	if left := leftRunning(before); len(left) > 0 {
		t.Errorf("%d goroutines left running:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}

// TestStagesStopInOrder: whichever part ends first, the stages are stopped
// in the order they were added, each only once the one before has
// returned, and the group returns the first part's error.
func TestStagesStopInOrder(t *testing.T) {
	var mu sync.Mutex
	var events []string
	record := func(e string) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	}
	var failed []string
	failure := func(stage string) func() {
		return func() {
			mu.Lock()
			defer mu.Unlock()
			failed = append(failed, stage)
		}
	}
	var g run.Group
	first := newStage(context.Background(), "first", zap.NewNop(), failure("first"))
	second := newStage(context.Background(), "second", zap.NewNop(), failure("second"))
	waitStopped := func(name string) func(context.Context) error {
		return func(ctx context.Context) error {
			<-ctx.Done()
			record(name + " returned")
			return ctx.Err()
		}
	}
	first.add(&g, "a", waitStopped("first/a"))
	first.add(&g, "b", waitStopped("first/b"))
	boom := errors.New("boom")
	second.add(&g, "c", waitStopped("second/c"))
	second.add(&g, "broken", func(context.Context) error {
		record("second/broken failed")
		return boom
	})
	err := g.Run()
	if !errors.Is(err, boom) || err.Error() != "broken: boom" {
		t.Fatalf("Run returned %v, want broken: boom", err)
	}
	if !slices.Equal(failed, []string{"second"}) {
		t.Errorf("failed called for %v", failed)
	}
	if len(events) != 4 || events[0] != "second/broken failed" || events[3] != "second/c returned" ||
		!slices.Contains(events[1:3], "first/a returned") || !slices.Contains(events[1:3], "first/b returned") {
		t.Errorf("events %v: want the failure, then the first stage's parts, then the second's", events)
	}
	// Stopping again is harmless.
	first.stop()
	second.stop()

	// A part that returns on its own without an error has failed too.
	var g2 run.Group
	third := newStage(context.Background(), "third", zap.NewNop(), nil)
	third.add(&g2, "waiter", waitStopped("third/waiter"))
	third.add(&g2, "quitter", func(context.Context) error { return nil })
	if err := g2.Run(); err == nil || err.Error() != "quitter: stopped on its own" {
		t.Fatalf("Run returned %v, want quitter: stopped on its own", err)
	}
}
