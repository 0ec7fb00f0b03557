package faults

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/systest/seed"
)

// loadWhile publishes n alerts at rate a second, calling restart after
// every n/(restarts+1) alerts (even spacing, no random choice: the load is
// what varies).
func loadWhile(t *testing.T, pub *publisher, prefix string, n int, rate float64, restarts int, restart func(int)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	every := n / (restarts + 1)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	done := 0
	for i := range n {
		if i > 0 && i%every == 0 && done < restarts {
			done++
			restart(done)
			t.Logf("restart %d of %d at %d alerts sent", done, restarts, i)
		}
		if err := pub.publish(ctx, fmt.Sprintf("%s-%05d", prefix, i), route(i)); err != nil {
			t.Fatal(err)
		}
		<-tick.C // pacing the load, not waiting for anything
	}
}

// TestEmbeddedServerRestart stops a worker running the embedded server
// (cleanly, as on SIGTERM) and starts it again on the same data directory
// and port, in the middle of the load.
func TestEmbeddedServerRestart(t *testing.T) {
	t.Parallel()
	seed.For(t) // no random choice: the seed line is for the failure message
	begin := time.Now()
	s := newSims(t)
	cfg := s.appConfig()
	cfg.DataDir = t.TempDir()
	cfg.NATSListen = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	w := runApp(t, cfg)
	pub := newPublisher(t, "nats://"+cfg.NATSListen)
	restarts := pick(1, 3)
	loadWhile(t, pub, "embedded-restart", pick(150, 1000), pick(30.0, 30.0), restarts, func(int) {
		w.stop(t)
		w = runApp(t, cfg)
	})
	settle(t, "embedded-server-restart", pub.js, s, pub.sentIDs(), pick(3*time.Minute, 6*time.Minute), begin, figures{Restarts: restarts})
}

// runServerAt starts a JetStream server on port with its store in dir.
func runServerAt(t *testing.T, dir string, port int) *server.Server {
	return natstest.RunServerAt(t, dir, port)
}

// TestExternalServerRestart shuts the NATS server a worker is connected to
// down and starts it again on the same store and port, under load.
func TestExternalServerRestart(t *testing.T) {
	t.Parallel()
	seed.For(t) // no random choice: the seed line is for the failure message
	begin := time.Now()
	dir := t.TempDir()
	port := freePort(t)
	srv := runServerAt(t, dir, port)
	s := newSims(t)
	cfg := s.appConfig()
	cfg.NATSURL = srv.ClientURL()
	runApp(t, cfg)
	pub := newPublisher(t, srv.ClientURL())
	restarts := pick(1, 3)
	loadWhile(t, pub, "external-restart", pick(150, 1000), pick(30.0, 30.0), restarts, func(int) {
		srv.Shutdown()
		srv.WaitForShutdown()
		srv = runServerAt(t, dir, port)
	})
	settle(t, "external-server-restart", pub.js, s, pub.sentIDs(), pick(3*time.Minute, 6*time.Minute), begin, figures{Restarts: restarts})
}

// TestBacklog queues alerts in ALERTS while no worker runs, then starts
// one (the real binary): all are escalated, none lost, none twice.
func TestBacklog(t *testing.T) {
	t.Parallel()
	seed.For(t) // no random choice: the seed line is for the failure message
	begin := time.Now()
	srv := natstest.RunServer(t, "")
	s := newSims(t)
	pub := newPublisher(t, srv.ClientURL())
	// The streams as a worker makes them, before any worker runs.
	ensureStreams(t, pub.js)
	n := pick(2000, 10000)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("backlog-%05d", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Yemot and IoTCall only: CCAI takes 10 requests a second.
	backlogRoute := func(i int) string { return []string{"yemot", "yemot", "yemot", "iotcall"}[i%4] }
	if err := pub.publishAsync(ctx, ids, backlogRoute); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d alerts queued in %s", len(pub.sentIDs()), time.Since(begin).Round(time.Millisecond))
	logPath := filepath.Join(t.TempDir(), "worker.log")
	keepLog(t, logPath)
	startWorker(t, logPath, s.env(), "--nats-url", srv.ClientURL(), "--policies", policiesDir,
		"--http-addr", "127.0.0.1:0", "--max-calls-per-person", "0")
	settle(t, "backlog", pub.js, s, pub.sentIDs(), pick(4*time.Minute, 15*time.Minute), begin, figures{})
}
