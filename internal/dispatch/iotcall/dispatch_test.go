package iotcall_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall/iotcallsim"
	"github.com/escalator-oss/escalator/internal/provider"
)

// renamed lets a second IoTCall account stand in as another provider of
// the chain.
type renamed struct {
	*iotcall.Client
	name string
}

func (r renamed) Name() string { return r.name }

// drive runs f and advances clk whenever f waits on it, until f returns.
func drive(clk *clock.Fake, f func()) {
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	for {
		waiting := make(chan struct{})
		go func() { clk.WaitForWaiters(1); close(waiting) }()
		select {
		case <-done:
			clk.After(time.Hour) // release the helper goroutine
			<-waiting
			return
		case <-waiting:
			clk.Advance(time.Second)
		}
	}
}

func TestDispatchThroughSimulators(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(primary, backup *iotcallsim.Server)
		wantBy      string
		wantKinds   string
		wantPrimary int // calls placed at the primary
		minElapsed  time.Duration
	}{
		{name: "retry then success",
			setup:       func(p, _ *iotcallsim.Server) { p.FailNext(2, http.StatusServiceUnavailable) },
			wantBy:      iotcall.Name,
			wantKinds:   "attempt attempt attempt dispatched",
			wantPrimary: 1},
		{name: "429 Retry-After is waited for",
			setup:       func(p, _ *iotcallsim.Server) { p.ThrottleNext(1, 30*time.Second) },
			wantBy:      iotcall.Name,
			wantKinds:   "attempt attempt dispatched",
			wantPrimary: 1, minElapsed: 30 * time.Second},
		{name: "retries exhausted then fallback",
			setup:     func(p, _ *iotcallsim.Server) { p.FailNext(100, http.StatusInternalServerError) },
			wantBy:    "backup",
			wantKinds: "attempt attempt attempt dispatch_failed fallback attempt dispatched"},
		{name: "permanent failure then fallback",
			setup:     func(p, _ *iotcallsim.Server) { p.AddRule("r1", iotcallsim.Normal) }, // 2 people on a 通常 rule
			wantBy:    "backup",
			wantKinds: "attempt dispatch_failed fallback attempt dispatched"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			primary, backup := iotcallsim.NewServer(authCode), iotcallsim.NewServer(authCode)
			defer primary.Close()
			defer backup.Close()
			primary.AddRule("r1", iotcallsim.Broadcast)
			backup.AddRule("r1", iotcallsim.Broadcast)
			tt.setup(primary, backup)

			core, logs := observer.New(zap.DebugLevel)
			clk := clock.NewFake(time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC))
			start := clk.Now()
			d, err := dispatch.New(dispatch.Config{
				Providers: map[string]dispatch.Provider{
					iotcall.Name: newClient(t, primary.URL(), nil),
					"backup":     renamed{newClient(t, backup.URL(), nil), "backup"},
				},
				Attempts: 3, Clock: clk, Logger: zap.New(core), Secrets: []string{authCode},
			})
			if err != nil {
				t.Fatal(err)
			}
			chain := []provider.Via{
				{Provider: iotcall.Name, Settings: iotcall.Settings{Rule: "r1"}},
				{Provider: "backup", Settings: iotcall.Settings{Rule: "r1"}},
			}
			var reports []dispatch.Report
			var out dispatch.Outcome
			drive(clk, func() {
				out = d.Dispatch(context.Background(), request("r1", alice, bob), chain, 5*time.Minute,
					func(r dispatch.Report) { reports = append(reports, r) })
			})
			var kinds []string
			for _, r := range reports {
				kinds = append(kinds, string(r.Kind))
			}
			if got := strings.Join(kinds, " "); got != tt.wantKinds {
				t.Errorf("reports %s, want %s", got, tt.wantKinds)
			}
			for _, p := range []provider.Person{alice, bob} {
				if by := out.ReachedBy(p.Phone); by != tt.wantBy {
					t.Errorf("%s reached by %q, want %q", p.Name, by, tt.wantBy)
				}
			}
			if n := len(primary.Calls()); n != tt.wantPrimary {
				t.Errorf("primary placed %d calls, want %d", n, tt.wantPrimary)
			}
			if el := clk.Now().Sub(start); el < tt.minElapsed {
				t.Errorf("retried after %s, want at least %s", el, tt.minElapsed)
			}
			var texts []string
			for _, r := range reports {
				texts = append(texts, r.Err)
			}
			for _, res := range out.Results {
				texts = append(texts, res.Detail)
			}
			assertNoSecret(t, []string{authCode}, strings.Join(texts, " "), logs)
		})
	}
}
