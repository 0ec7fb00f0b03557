package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/systest/seed"
)

// route spreads the load over the providers: mostly Yemot, a third IoTCall
// (one rule, so its lock is contended), a tenth CCAI (10 requests a second).
func route(i int) string {
	switch i % 10 {
	case 0:
		return "ccai"
	case 1, 2, 3:
		return "iotcall"
	}
	return "yemot"
}

// keepLog shows the end of a worker's log when the test failed.
func keepLog(t *testing.T, path string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		t.Logf("end of the worker's log %s:\n%s", path, strings.Join(lines, "\n"))
	})
}

// killUnderLoad publishes n alerts at rate a second while it kills the
// worker with SIGKILL `kills` times at moments drawn from r, restarting it
// after a pause drawn from r; start (re)starts the worker. It returns when
// the load is sent and the last worker is up. w is the worker running now.
func killUnderLoad(t *testing.T, r *rand.Rand, pub *publisher, prefix string, n int, rate float64, kills int, w *worker, start func() *worker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sendErr := make(chan error, 1)
	go func() {
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for i := range n {
			if err := pub.publish(ctx, fmt.Sprintf("%s-%05d", prefix, i), route(i)); err != nil {
				sendErr <- err
				return
			}
			<-tick.C // pacing the open-loop load, not waiting for anything
		}
		sendErr <- nil
	}()
	span := time.Duration(float64(n) / rate * float64(time.Second))
	for k := range kills {
		// A random moment in the k-th slice of the load, and a random time
		// down (up to a second), both drawn before either is waited for.
		after := time.Duration(r.Int64N(int64(span/time.Duration(kills)))) + 200*time.Millisecond
		down := time.Duration(r.Int64N(int64(time.Second)))
		select {
		case <-time.After(after):
		case <-ctx.Done():
			t.Fatal("load did not finish")
		}
		w.kill()
		t.Logf("kill %d of %d at %d alerts sent (%s into its slice), down for %s", k+1, kills, len(pub.sentIDs()),
			after.Round(time.Millisecond), down.Round(time.Millisecond))
		select {
		case <-time.After(down):
		case <-ctx.Done():
		}
		w = start()
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
}

// TestKillWorker kills the worker process (connected to a NATS server of
// its own) with SIGKILL at random moments under load, restarts it each
// time, and counts.
func TestKillWorker(t *testing.T) {
	t.Parallel()
	r := seed.For(t)
	begin := time.Now()
	srv := natstest.RunServer(t, "")
	s := newSims(t)
	logPath := filepath.Join(t.TempDir(), "worker.log")
	keepLog(t, logPath)
	start := func() *worker {
		return startWorker(t, logPath, s.env(), "--nats-url", srv.ClientURL(), "--policies", policiesDir,
			"--http-addr", "127.0.0.1:0", "--max-calls-per-person", "0", "--log-level", "info")
	}
	w := start()
	pub := newPublisher(t, srv.ClientURL())
	kills := pick(3, 10)
	killUnderLoad(t, r, pub, "kill", pick(300, 2000), pick(25.0, 40.0), kills, w, start)
	settle(t, "kill-worker", pub.js, s, pub.sentIDs(), pick(3*time.Minute, 6*time.Minute), begin, figures{Kills: kills})
}

// TestKillEmbedded kills a worker running its own embedded NATS server
// (--data-dir) with SIGKILL: the server dies with it and restarts from its
// store.
func TestKillEmbedded(t *testing.T) {
	t.Parallel()
	r := seed.For(t)
	begin := time.Now()
	s := newSims(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "worker.log")
	keepLog(t, logPath)
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start := func() *worker {
		return startWorker(t, logPath, s.env(), "--data-dir", filepath.Join(dir, "data"), "--nats-listen", listen,
			"--policies", policiesDir, "--http-addr", "127.0.0.1:0", "--max-calls-per-person", "0")
	}
	w := start()
	pub := newPublisher(t, "nats://"+listen)
	kills := pick(3, 10)
	killUnderLoad(t, r, pub, "embedded", pick(200, 1500), pick(20.0, 30.0), kills, w, start)
	settle(t, "kill-embedded", pub.js, s, pub.sentIDs(), pick(3*time.Minute, 6*time.Minute), begin, figures{Kills: kills})
}
