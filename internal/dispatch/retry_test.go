package dispatch

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/escalator-oss/escalator/internal/clock"
)

var t0 = time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)

func TestRetrierDo(t *testing.T) {
	errA := Retryable(errors.New("fake: 503 Service Unavailable: A"), 0)
	tests := []struct {
		name         string
		script       []error
		attempts     int
		budget       time.Duration
		initial      time.Duration
		wantAttempts int
		wantErr      string // substring; "" = success
		minElapsed   time.Duration
	}{
		{name: "first try", script: nil, attempts: 3, budget: time.Minute, wantAttempts: 1},
		{name: "retry then success", script: []error{errA, errA}, attempts: 3, budget: time.Minute, wantAttempts: 3},
		{name: "attempts exhausted", script: []error{errA, errA, errA, errA}, attempts: 3, budget: time.Minute,
			wantAttempts: 3, wantErr: "call fake: gave up after 3 attempt(s): fake: 503 Service Unavailable: A"},
		{name: "permanent not retried", script: []error{errBadRequest}, attempts: 3, budget: time.Minute,
			wantAttempts: 1, wantErr: "call fake: failed permanently after 1 attempt(s): fake: 400 Bad Request"},
		{name: "retry-after honoured", script: []error{Retryable(errors.New("fake: 429"), 20*time.Second)},
			attempts: 3, budget: time.Minute, wantAttempts: 2, minElapsed: 20 * time.Second},
		{name: "retry-after past the budget gives up at once",
			script:   []error{Retryable(errors.New("fake: 429"), 10*time.Minute)},
			attempts: 3, budget: time.Minute, wantAttempts: 1,
			wantErr: "call fake: gave up (Retry-After is past the budget) after 1 attempt(s): fake: 429"},
		{name: "budget spent before attempts", script: []error{errA, errA, errA, errA, errA, errA, errA, errA},
			attempts: 8, budget: time.Minute, initial: 25 * time.Second, wantAttempts: 2,
			wantErr: "call fake: gave up (budget spent) after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			f := &fakeProvider{name: "fake", script: tt.script}
			r := Retrier{Attempts: tt.attempts, Budget: tt.budget, InitialInterval: tt.initial, Clock: clk}
			var n int
			var err error
			drive(t, clk, time.Second, func() {
				n, err = r.Do(context.Background(), "fake", func(ctx context.Context, _ int) error {
					_, err := f.Call(ctx, Request{})
					return err
				})
			})
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Do: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Do error = %v, want it to contain %q", err, tt.wantErr)
			}
			if tt.wantErr == "" || !strings.Contains(tt.wantErr, "budget spent") {
				if n != tt.wantAttempts {
					t.Errorf("attempts = %d, want %d", n, tt.wantAttempts)
				}
			} else if n >= tt.attempts || n < tt.wantAttempts {
				t.Errorf("attempts = %d, want in [%d, %d)", n, tt.wantAttempts, tt.attempts)
			}
			if el := clk.Now().Sub(t0); el < tt.minElapsed {
				t.Errorf("elapsed %s, want at least %s (Retry-After)", el, tt.minElapsed)
			}
			if el := clk.Now().Sub(t0); el > tt.budget+time.Second {
				t.Errorf("elapsed %s, past the budget %s", el, tt.budget)
			}
		})
	}
}

func TestRetrierChecksContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	n, err := Retrier{Budget: time.Minute, Clock: clock.NewFake(t0)}.Do(ctx, "fake",
		func(context.Context, int) error { called = true; return nil })
	if called || n != 0 || err == nil || !strings.Contains(err.Error(), "call fake: no attempt made: context canceled") {
		t.Fatalf("Do on a cancelled context: called=%v attempts=%d err=%v", called, n, err)
	}
}

func TestRetrierRequestTimeout(t *testing.T) {
	r := Retrier{Budget: time.Minute, RequestTimeout: 3 * time.Second, Clock: clock.NewFake(t0)}
	_, err := r.Do(context.Background(), "fake", func(ctx context.Context, _ int) error {
		dl, ok := ctx.Deadline()
		if !ok {
			return errors.New("attempt context has no deadline")
		}
		if left := time.Until(dl); left > 3*time.Second || left < 2*time.Second {
			return errors.New("attempt deadline is not the request timeout: " + left.String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRetrierLogsOnlyWhenTheErrorChanges(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	clk := clock.NewFake(t0)
	errA := Retryable(errors.New("fake: 503: A"), 0)
	errB := Retryable(errors.New("fake: 502: B"), 0)
	f := &fakeProvider{name: "fake", script: []error{errA, errA, errB, errB, errB}}
	r := Retrier{Attempts: 5, Budget: time.Hour, Clock: clk, Logger: zap.New(core)}
	drive(t, clk, time.Second, func() {
		_, _ = r.Do(context.Background(), "fake", func(ctx context.Context, _ int) error {
			_, err := f.Call(ctx, Request{})
			return err
		})
	})
	var got []string
	for _, e := range logs.All() {
		got = append(got, e.ContextMap()["error"].(string))
	}
	if strings.Join(got, "|") != "fake: 503: A|fake: 502: B" {
		t.Fatalf("logged %q, want one line per distinct error", got)
	}
}
