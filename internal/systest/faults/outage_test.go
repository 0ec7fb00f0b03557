package faults

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch/ccai/ccaisim"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/systest/seed"
)

// outage runs a worker in process against its own NATS server and
// simulators, lets down(s) take providers down, sends n alerts (route(i))
// at rate a second for as long as the outage lasts, then up(s), and counts.
// Every escalation must end (exhausted) and say what happened to its calls
// (dispatched or dispatch_failed): never silence.
func outage(t *testing.T, name string, n int, rate float64, route func(int) string, down, up func(*sims)) figures {
	t.Helper()
	begin := time.Now()
	srv := natstest.RunServer(t, "")
	s := newSims(t)
	cfg := s.appConfig()
	cfg.NATSURL = srv.ClientURL()
	runApp(t, cfg)
	pub := newPublisher(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	down(s)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	for i := range n {
		if err := pub.publish(ctx, fmt.Sprintf("%s-%04d", name, i), route(i)); err != nil {
			t.Fatal(err)
		}
		<-tick.C // pacing the load over the outage, not waiting for anything
	}
	tick.Stop()
	f := settle(t, name, pub.js, s, pub.sentIDs(), 3*time.Minute, begin, figures{})
	up(s)
	if f.Exhausted != f.AlertsSent {
		t.Errorf("%s: %d exhausted outcomes for %d alerts", name, f.Exhausted, f.AlertsSent)
	}
	return f
}

func only(r string) func(int) string { return func(int) string { return r } }

// TestProviderOutages: IoTCall answering 503 (a minute in the long form),
// Yemot timing out, CCAI's agent unavailable, and all three down at once.
func TestProviderOutages(t *testing.T) {
	t.Parallel()
	seed.For(t) // no random choice: the seed line is for the failure message
	t.Run("iotcall-5xx", func(t *testing.T) {
		t.Parallel()
		// Half the alerts can only go through IoTCall (dispatch_failed,
		// then exhausted); the other half fall back to Yemot.
		secs := pick(5, 60)
		f := outage(t, "iotcall-5xx", secs*4, 4, func(i int) string { return []string{"iotcall", "chain"}[i%2] },
			func(s *sims) { s.iotGate.set(gateFail) }, func(s *sims) { s.iotGate.set(gatePass) })
		if want := f.AlertsSent / 2; f.DispatchFailed < want {
			t.Errorf("iotcall-5xx: %d dispatch_failed, want at least %d (one per IoTCall-only alert)", f.DispatchFailed, want)
		}
		if f.CallsIoTCall != 0 {
			t.Errorf("iotcall-5xx: %d IoTCall calls placed during its outage", f.CallsIoTCall)
		}
		if want := f.AlertsSent - f.AlertsSent/2; f.CallsYemot != want {
			t.Errorf("iotcall-5xx: %d Yemot calls, want %d (every chain alert falls back)", f.CallsYemot, want)
		}
	})
	t.Run("yemot-timeout", func(t *testing.T) {
		t.Parallel()
		f := outage(t, "yemot-timeout", pick(4, 20), 2, only("yemot"),
			func(s *sims) { s.yemotGate.set(gateStall) }, func(s *sims) { s.yemotGate.set(gatePass) })
		if f.DispatchFailed != f.AlertsSent || f.CallsPlaced != 0 {
			t.Errorf("yemot-timeout: %d dispatch_failed and %d calls for %d alerts, want one failure each and no call",
				f.DispatchFailed, f.CallsPlaced, f.AlertsSent)
		}
	})
	t.Run("ccai-agent-unavailable", func(t *testing.T) {
		t.Parallel()
		f := outage(t, "ccai-agent-unavailable", pick(4, 20), 2, only("ccai"),
			func(s *sims) { s.ccai.SetAgent("desk-1@example.com", ccaisim.Unavailable) },
			func(s *sims) { s.ccai.SetAgent("desk-1@example.com", ccaisim.Available) })
		if f.DispatchFailed != f.AlertsSent || f.CallsPlaced != 0 {
			t.Errorf("ccai-agent-unavailable: %d dispatch_failed and %d calls for %d alerts, want one failure each and no call",
				f.DispatchFailed, f.CallsPlaced, f.AlertsSent)
		}
	})
	t.Run("all-down", func(t *testing.T) {
		t.Parallel()
		f := outage(t, "all-down", pick(4, 20), 2, only("chain"),
			func(s *sims) {
				s.iotGate.set(gateFail)
				s.yemotGate.set(gateStall)
				s.ccai.SetAgent("desk-2@example.com", ccaisim.Unavailable)
			},
			func(s *sims) {
				s.iotGate.set(gatePass)
				s.yemotGate.set(gatePass)
				s.ccai.SetAgent("desk-2@example.com", ccaisim.Available)
			})
		if want := 3 * f.AlertsSent; f.DispatchFailed != want || f.CallsPlaced != 0 {
			t.Errorf("all-down: %d dispatch_failed and %d calls for %d alerts, want %d failures (three providers each) and no call",
				f.DispatchFailed, f.CallsPlaced, f.AlertsSent, want)
		}
	})
}
