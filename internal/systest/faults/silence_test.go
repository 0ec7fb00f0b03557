package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/systest/ledger"
	"github.com/escalator-oss/escalator/internal/systest/seed"
)

// TestKillSilence: alerts arrive under a silence (made over HTTP) and are
// silenced; the worker is killed with SIGKILL and stays dead past the
// silence's end. Back, it escalates each alert once, from step 1 (the
// ledger: started once, one step dispatched once, exhausted), and nobody
// was called before the silence ended.
func TestKillSilence(t *testing.T) {
	t.Parallel()
	seed.For(t) // logs the seed, for the failure message; no random choice here
	begin := time.Now()
	srv := natstest.RunServer(t, "")
	s := newSims(t)
	logPath := filepath.Join(t.TempDir(), "worker.log")
	keepLog(t, logPath)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start := func() *worker {
		return startWorker(t, logPath, s.env(), "--nats-url", srv.ClientURL(), "--policies", policiesDir,
			"--http-addr", httpAddr, "--max-calls-per-person", "0")
	}
	w := start()

	// A silence of every route but ccai, for a few seconds.
	body := `{"matchers_regex": {"route": "yemot|iotcall|chain"}, "duration": "8s", "by": "faults", "comment": "kill -9 under a silence"}`
	resp, err := http.Post("http://"+httpAddr+"/v1/silences", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	var sl struct {
		ID     string    `json:"id"`
		EndsAt time.Time `json:"ends_at"`
	}
	err = json.NewDecoder(resp.Body).Decode(&sl)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || sl.ID == "" {
		t.Fatalf("create the silence: %s, %v", resp.Status, err)
	}

	pub := newPublisher(t, srv.ClientURL())
	o := ledger.ReadOutcomes(t, pub.js)
	n := pick(30, 200)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range n {
		route := []string{"yemot", "iotcall", "chain"}[i%3]
		if err := pub.publish(ctx, fmt.Sprintf("silence-%04d", i), route); err != nil {
			t.Fatal(err)
		}
	}
	// Every alert is silenced before the kill.
	if got := o.WaitEvent(outcome.Silenced, n, time.Until(sl.EndsAt)); got < n {
		t.Fatalf("%d of %d alerts silenced before the silence ended", got, n)
	}
	o.Stop()
	w.kill()
	if calls := len(s.rec.Calls()); calls != 0 {
		t.Fatalf("%d calls placed under the silence", calls)
	}
	t.Logf("%d alerts silenced until %s; worker killed %s before", n, sl.EndsAt.Format(time.RFC3339),
		time.Until(sl.EndsAt).Round(time.Millisecond))

	// Dead past the silence's end: its wake-ups are due meanwhile.
	select {
	case <-time.After(time.Until(sl.EndsAt) + time.Second):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	start()
	f := settle(t, "kill-silence", pub.js, s, pub.sentIDs(), pick(3*time.Minute, 6*time.Minute), begin, figures{Kills: 1})
	if f.EscalationsStarted != n || f.StepsDispatched != n {
		t.Errorf("after the silence: %d started, %d steps dispatched; want %d each", f.EscalationsStarted, f.StepsDispatched, n)
	}
	for _, c := range s.rec.Calls() {
		if c.At.Before(sl.EndsAt) {
			t.Errorf("a call at %s, before the silence's end %s: %+v", c.At, sl.EndsAt, c)
			break
		}
	}
}
