package dispatch

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/provider"
)

func TestPerPersonCap(t *testing.T) {
	clk := clock.NewFake(t0)
	g := NewGuards(GuardsConfig{PerPersonPerHour: 2, Clock: clk})
	one := &fakeProvider{name: "one"}
	d, err := New(Config{Providers: map[string]Provider{"one": one}, Guards: g, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name        string
		advance     time.Duration
		wantReached int
		wantRefused int
	}{
		{name: "first call", wantReached: 1},
		{name: "second call", advance: 10 * time.Minute, wantReached: 1},
		{name: "third call within the hour is refused", advance: 10 * time.Minute, wantRefused: 1},
		{name: "still within the hour of the first", advance: 39 * time.Minute, wantRefused: 1},
		{name: "an hour after the first, one slot is free", advance: 2 * time.Minute, wantReached: 1},
		{name: "and only one", wantRefused: 1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clk.Advance(s.advance)
			report, reports := collect()
			out := d.Dispatch(context.Background(), Request{People: []provider.Person{alice}}, chainOf("one"), time.Minute, report)
			if got := len(out.Reached()); got != s.wantReached {
				t.Errorf("reached %d, want %d", got, s.wantReached)
			}
			refused := 0
			for _, r := range reports() {
				if r.Kind == ReportRefused && r.Guard == GuardPerPerson {
					refused += len(r.People)
				}
			}
			if refused != s.wantRefused {
				t.Errorf("refusals reported for %d people, want %d", refused, s.wantRefused)
			}
			if s.wantRefused > 0 && (len(out.Unreached) != 1 || !strings.Contains(out.Unreached[0].Reason, "per_person guard")) {
				t.Errorf("unreached = %+v, want alice with the guard's reason", out.Unreached)
			}
		})
	}
}

func TestPerPersonCapGivesBackFailedCalls(t *testing.T) {
	clk := clock.NewFake(t0)
	g := NewGuards(GuardsConfig{PerPersonPerHour: 1, Clock: clk})
	failing := &fakeProvider{name: "one", script: []error{errBadRequest}}
	d, err := New(Config{Providers: map[string]Provider{"one": failing}, Guards: g, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if out := d.Dispatch(context.Background(), Request{People: []provider.Person{alice}}, chainOf("one"), time.Minute, nil); out.OK() {
		t.Fatal("first dispatch should fail")
	}
	// The failed call did not ring alice, so it does not count against her.
	if out := d.Dispatch(context.Background(), Request{People: []provider.Person{alice}}, chainOf("one"), time.Minute, nil); !out.OK() {
		t.Fatalf("second dispatch refused: %+v", out.Unreached)
	}
}

func TestRateLimitRefusesPastTheBudget(t *testing.T) {
	clk := clock.NewFake(t0)
	g := NewGuards(GuardsConfig{Clock: clk, Providers: map[string]ProviderLimits{
		"one": {Rate: rate.Every(time.Hour), Burst: 1},
	}})
	one, two := &fakeProvider{name: "one"}, &fakeProvider{name: "two"}
	d, err := New(Config{Providers: map[string]Provider{"one": one, "two": two}, Guards: g, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if out := d.Dispatch(context.Background(), Request{People: []provider.Person{alice}}, chainOf("one", "two"), time.Minute, nil); out.ReachedBy(alice.Phone) != "one" {
		t.Fatalf("first call not through one: %+v", out)
	}
	report, reports := collect()
	out := d.Dispatch(context.Background(), Request{People: []provider.Person{bob}}, chainOf("one", "two"), time.Minute, report)
	if out.ReachedBy(bob.Phone) != "two" {
		t.Errorf("bob reached by %q, want the fallback two", out.ReachedBy(bob.Phone))
	}
	got := strings.Join(kinds(reports()), " ")
	if !strings.HasPrefix(got, "refused:one dispatch_failed:one fallback:one") {
		t.Errorf("reports = %s, want the rate refusal reported then a fallback", got)
	}
	if n := len(one.Calls()); n != 1 {
		t.Errorf("provider one called %d times, want 1", n)
	}
}

func TestRateLimitWaitsWithinTheBudget(t *testing.T) {
	clk := clock.NewFake(t0)
	g := NewGuards(GuardsConfig{Clock: clk, Providers: map[string]ProviderLimits{
		"one": {Rate: rate.Every(10 * time.Second), Burst: 1},
	}})
	deadline := t0.Add(time.Minute)
	rel, err := g.Acquire(context.Background(), "one", deadline)
	if err != nil {
		t.Fatal(err)
	}
	rel()
	var err2 error
	drive(t, clk, time.Second, func() { _, err2 = g.Acquire(context.Background(), "one", deadline) })
	if err2 != nil {
		t.Fatalf("second acquire: %v", err2)
	}
	if el := clk.Now().Sub(t0); el < 10*time.Second {
		t.Errorf("second request allowed after %s, want 10s", el)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	clk := clock.NewFake(t0)
	g := NewGuards(GuardsConfig{Clock: clk, Providers: map[string]ProviderLimits{"one": {Concurrency: 1}}})
	deadline := t0.Add(time.Minute)
	release, err := g.Acquire(context.Background(), "one", deadline)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rel, err := g.Acquire(context.Background(), "one", deadline)
		if err == nil {
			rel()
		}
		got <- err
	}()
	clk.WaitForWaiters(1) // the second is waiting for the slot
	release()
	wg.Wait()
	if err := <-got; err != nil {
		t.Fatalf("second acquire after release: %v", err)
	}

	// Held past the deadline: refused, and reported as a concurrency refusal.
	release, _ = g.Acquire(context.Background(), "one", deadline)
	defer release()
	var err3 error
	drive(t, clk, 10*time.Second, func() { _, err3 = g.Acquire(context.Background(), "one", deadline) })
	if ref, ok := IsRefused(err3); !ok || ref.Guard != GuardConcurrency {
		t.Fatalf("acquire with the slot held past the deadline = %v, want a concurrency refusal", err3)
	}
}
