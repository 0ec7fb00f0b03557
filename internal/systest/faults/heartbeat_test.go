package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/heartbeat"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/systest/seed"
)

// heartbeatDir holds the heartbeat scenario's policies: the monitor
// faults-beat (every 5s, route=heartbeat, never pinged) and a one-step Yemot
// policy that takes its alert.
var heartbeatDir = func() string {
	d, err := filepath.Abs(filepath.Join("testdata", "heartbeat"))
	if err != nil {
		panic(err)
	}
	return d
}()

// TestKillHeartbeat: a heartbeat monitor's deadline passes while the worker
// is dead (SIGKILL right after it set the deadline). Back, the worker raises
// the alert once, and it escalates through the policy once (the ledger:
// started once, one call, exhausted); a ping over HTTP then resolves it.
// Schedules fire on real time: the monitor's every (5s) sets how long it
// takes.
func TestKillHeartbeat(t *testing.T) {
	t.Parallel()
	seed.For(t) // logs the seed, for the failure message; no random choice here
	const name = "faults-beat"
	begin := time.Now()
	srv := natstest.RunServer(t, "")
	s := newSims(t)
	logPath := filepath.Join(t.TempDir(), "worker.log")
	keepLog(t, logPath)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start := func() *worker {
		return startWorker(t, logPath, s.env(), "--nats-url", srv.ClientURL(), "--policies", heartbeatDir,
			"--http-addr", httpAddr, "--max-calls-per-person", "0")
	}
	w := start()
	_, js := connect(t, srv.ClientURL())
	tok := natsx.SubjectToken(name)

	// The worker loaded the monitor and set its deadline: kill it.
	waitSubject(t, js, natsx.KVStream(natsx.BucketHeartbeats), natsx.KVSubject(natsx.BucketHeartbeats, tok), "the monitor loaded")
	waitSubject(t, js, natsx.StreamHeartbeatTimers, natsx.HeartbeatTimerSubject(tok), "its deadline set")
	w.kill()
	t.Logf("worker killed %s after it started; the deadline passes while it is dead", time.Since(begin).Round(time.Millisecond))

	// The server fires the deadline; nobody takes it.
	waitSubject(t, js, natsx.StreamHeartbeatTimers, natsx.HeartbeatDueSubject(tok), "the deadline fired")
	if evs := heartbeatAlerts(t, js); len(evs) != 0 {
		t.Fatalf("alerts raised while the worker was dead: %v", evs)
	}

	start()
	// settle waits for the escalation's final outcome and has the ledger count.
	settle(t, "kill-heartbeat", js, s, []string{heartbeat.AlertID(name)}, pick(3*time.Minute, 6*time.Minute), begin,
		figures{Kills: 1})
	if evs := heartbeatAlerts(t, js); len(evs) != 1 || evs[0].Status != alert.Firing {
		t.Errorf("heartbeat alerts stored: %v, want one firing", evs)
	}

	// The worker that raised it counted the miss.
	if m := metricsOf(t, httpAddr); !strings.Contains(m, `escalator_heartbeats_missed_total{name="faults-beat"} 1`) {
		t.Errorf("no missed heartbeat counted in /metrics")
	}

	// A ping over HTTP resolves it.
	resp, err := http.Post("http://"+httpAddr+"/v1/heartbeats/"+name, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ping: %s, want 202", resp.Status)
	}
	timeout := time.After(time.Minute)
	for {
		evs := heartbeatAlerts(t, js)
		if len(evs) == 2 && evs[1].Status == alert.Resolved {
			break
		}
		select {
		case <-timeout:
			t.Fatalf("heartbeat alerts after the ping: %v, want firing then resolved", evs)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// metricsOf is the worker's /metrics.
func metricsOf(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// heartbeatAlerts are the heartbeat alert events stored in ALERTS, in order.
func heartbeatAlerts(t *testing.T, js jetstream.JetStream) []alert.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, natsx.StreamAlerts)
	if err != nil {
		t.Fatal(err)
	}
	var out []alert.Event
	for seq := uint64(1); ; seq++ {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(natsx.SubjectAlertsHeartbeat))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		ev, err := alert.Decode(m.Data, 0)
		if err != nil {
			t.Fatalf("a heartbeat alert alert.Decode refuses: %v", err)
		}
		out = append(out, ev)
		seq = m.Sequence
	}
}

// waitSubject waits until stream holds a message on subject (what, for the
// failure message), polling with a deadline.
func waitSubject(t *testing.T, js jetstream.JetStream, stream, subject, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := st.GetLastMsgForSubject(ctx, subject)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("never %s (%s in %s): %v", what, subject, stream, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
