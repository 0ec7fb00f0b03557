package faults

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/systest/ledger"
)

// TestKillDuringAStep: a worker is killed with SIGKILL while it places a
// step (its Yemot request held at the gate); a second worker on the same
// NATS server places the step again once the dead one's lease has run out
// and its wake-up has come back (engine.DefaultLeaseTTL,
// natsx.DefaultDueAckWait). The suite reports how long after the kill the
// call reached the provider (takeover_seconds); the ledger counts it as
// in doubt, and nothing else may be lost or repeated.
func TestKillDuringAStep(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	srv := natstest.RunServer(t, "")
	s := newSims(t)
	logPath := filepath.Join(t.TempDir(), "worker.log")
	keepLog(t, logPath)
	start := func() *worker {
		return startWorker(t, logPath, s.env(), "--nats-url", srv.ClientURL(), "--policies", policiesDir,
			"--http-addr", "127.0.0.1:0", "--max-calls-per-person", "0", "--log-level", "info")
	}
	s.yemotGate.set(gateStall)
	dying := start()
	pub := newPublisher(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pub.publish(ctx, "takeover-1", "yemot"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.yemotGate.stalls: // the worker is placing the step
	case <-ctx.Done():
		t.Fatal("the step's Yemot request never came")
	}
	start() // the worker that takes over, ready before the kill
	killed := time.Now()
	dying.kill()
	s.yemotGate.set(gatePass)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var took time.Duration
	for took == 0 {
		select {
		case <-tick.C: // looking at the ledger, not waiting for time to pass
			for _, c := range s.rec.Calls() {
				if c.Provider == ledger.Yemot {
					took = time.Since(killed)
				}
			}
		case <-ctx.Done():
			t.Fatal("the step was not placed again within a minute of its worker's death")
		}
	}
	t.Logf("a step being placed when its worker died was placed again %.1f s after the kill", took.Seconds())
	settle(t, "kill-during-a-step", pub.js, s, pub.sentIDs(), time.Minute, begin,
		figures{Kills: 1, TakeoverSeconds: took.Round(100 * time.Millisecond).Seconds()})
}
