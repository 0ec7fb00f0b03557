package dispatch

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/provider"
)

func chainOf(names ...string) []provider.Via {
	out := make([]provider.Via, len(names))
	for i, n := range names {
		out[i] = provider.Via{Provider: n}
	}
	return out
}

func TestDispatchFallback(t *testing.T) {
	tests := []struct {
		name          string
		first, second *fakeProvider
		people        []provider.Person
		chain         []string
		wantKinds     string
		wantReachedBy map[string]string // phone -> provider
		wantUnreached []string          // names
	}{
		{
			name:          "first provider accepts",
			first:         &fakeProvider{name: "one"},
			second:        &fakeProvider{name: "two"},
			people:        []provider.Person{alice, bob},
			chain:         []string{"one", "two"},
			wantKinds:     "attempt:one dispatched:one",
			wantReachedBy: map[string]string{alice.Phone: "one", bob.Phone: "one"},
		},
		{
			name:          "retries exhausted then fallback",
			first:         &fakeProvider{name: "one", script: []error{errUnavailable, errUnavailable, errUnavailable}},
			second:        &fakeProvider{name: "two"},
			people:        []provider.Person{alice},
			chain:         []string{"one", "two"},
			wantKinds:     "attempt:one attempt:one attempt:one dispatch_failed:one fallback:one attempt:two dispatched:two",
			wantReachedBy: map[string]string{alice.Phone: "two"},
		},
		{
			name:          "permanent failure falls back at once",
			first:         &fakeProvider{name: "one", script: []error{errBadRequest}},
			second:        &fakeProvider{name: "two"},
			people:        []provider.Person{alice},
			chain:         []string{"one", "two"},
			wantKinds:     "attempt:one dispatch_failed:one fallback:one attempt:two dispatched:two",
			wantReachedBy: map[string]string{alice.Phone: "two"},
		},
		{
			name:          "people refused individually go on to the next provider",
			first:         &fakeProvider{name: "one", failed: map[string]string{bob.Phone: "not Vaild"}},
			second:        &fakeProvider{name: "two"},
			people:        []provider.Person{alice, bob},
			chain:         []string{"one", "two"},
			wantKinds:     "attempt:one dispatched:one dispatch_failed:one fallback:one attempt:two dispatched:two",
			wantReachedBy: map[string]string{alice.Phone: "one", bob.Phone: "two"},
		},
		{
			name:          "unconfigured provider is skipped",
			first:         &fakeProvider{name: "one"},
			second:        &fakeProvider{name: "two"},
			people:        []provider.Person{alice},
			chain:         []string{"nope", "two"},
			wantKinds:     "dispatch_failed:nope fallback:nope attempt:two dispatched:two",
			wantReachedBy: map[string]string{alice.Phone: "two"},
		},
		{
			name:          "chain exhausted",
			first:         &fakeProvider{name: "one", script: []error{errBadRequest}},
			second:        &fakeProvider{name: "two", script: []error{errBadRequest}},
			people:        []provider.Person{alice},
			chain:         []string{"one", "two"},
			wantKinds:     "attempt:one dispatch_failed:one fallback:one attempt:two dispatch_failed:two",
			wantUnreached: []string{"alice"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			reg := prometheus.NewRegistry()
			d, err := New(Config{
				Providers: map[string]Provider{"one": tt.first, "two": tt.second},
				Attempts:  3, Clock: clk, Registerer: reg,
			})
			if err != nil {
				t.Fatal(err)
			}
			report, reports := collect()
			var out Outcome
			drive(t, clk, time.Second, func() {
				out = d.Dispatch(context.Background(), Request{People: tt.people}, chainOf(tt.chain...), 15*time.Minute, report)
			})
			if got := strings.Join(kinds(reports()), " "); got != tt.wantKinds {
				t.Errorf("reports:\n got %s\nwant %s", got, tt.wantKinds)
			}
			for phone, want := range tt.wantReachedBy {
				if got := out.ReachedBy(phone); got != want {
					t.Errorf("%s reached by %q, want %q", phone, got, want)
				}
			}
			var unreached []string
			for _, u := range out.Unreached {
				unreached = append(unreached, u.Person.Name)
				if u.Reason == "" {
					t.Errorf("%s unreached without a reason", u.Person.Name)
				}
			}
			if strings.Join(unreached, ",") != strings.Join(tt.wantUnreached, ",") {
				t.Errorf("unreached = %v, want %v", unreached, tt.wantUnreached)
			}
			if n := testutil.CollectAndCount(reg); n == 0 {
				t.Error("no metrics on the given registerer")
			}
		})
	}
}

func TestDispatchFallbackMetricAndBudget(t *testing.T) {
	clk := clock.NewFake(t0)
	reg := prometheus.NewRegistry()
	always := make([]error, 100)
	for i := range always {
		always[i] = errUnavailable
	}
	one := &fakeProvider{name: "one", script: always}
	two := &fakeProvider{name: "two"}
	d, err := New(Config{Providers: map[string]Provider{"one": one, "two": two}, Attempts: 100,
		Clock: clk, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	var out Outcome
	drive(t, clk, time.Second, func() {
		out = d.Dispatch(context.Background(), Request{People: []provider.Person{alice}}, chainOf("one", "two"), 3*time.Minute, nil)
	})
	// One provider may take a third of the 3-minute wait, not all of it.
	if el := clk.Now().Sub(t0); el > time.Minute+time.Second {
		t.Errorf("retrying took %s, more than a third of the wait", el)
	}
	if out.ReachedBy(alice.Phone) != "two" {
		t.Errorf("outcome %+v: alice not reached through the fallback", out)
	}
	if v := testutil.ToFloat64(d.m.fallbacks.WithLabelValues("one", "two")); v != 1 {
		t.Errorf("fallbacks{one,two} = %v, want 1", v)
	}
}

func TestDispatchRedactsSecrets(t *testing.T) {
	const secret = "MFhjVA=="
	core, logs := observer.New(zap.DebugLevel)
	leaky := &fakeProvider{name: "one", script: []error{
		Retryable(errors.New("fake: 500: echoed header Authorization: "+secret), 0),
		errors.New("fake: 401: bad code " + secret)}}
	clk := clock.NewFake(t0)
	d, err := New(Config{Providers: map[string]Provider{"one": leaky}, Clock: clk,
		Logger: zap.New(core), Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	report, reports := collect()
	var out Outcome
	drive(t, clk, time.Second, func() {
		out = d.Dispatch(context.Background(), Request{People: []provider.Person{alice}}, chainOf("one"), time.Minute, report)
	})
	for _, r := range reports() {
		if strings.Contains(r.Err, secret) {
			t.Errorf("report %s leaks the secret: %s", r.Kind, r.Err)
		}
	}
	for _, u := range out.Unreached {
		if strings.Contains(u.Reason, secret) {
			t.Errorf("outcome leaks the secret: %s", u.Reason)
		}
	}
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, secret) {
				t.Errorf("log %q field %s leaks the secret", e.Message, k)
			}
		}
	}
	if len(logs.All()) == 0 {
		t.Error("nothing logged: the test proves nothing")
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{Providers: map[string]Provider{"one": &fakeProvider{name: "two"}}, Attempts: -1,
		BudgetFraction: 2, RequestTimeout: -time.Second}.Validate()
	want := []string{`providers[one]: provider calls itself "two"`, "attempts: must not be negative",
		"budget fraction: must be in (0, 1]", "request timeout: must not be negative"}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %v, want it to say %q", err, w)
		}
	}
	if err := (Config{Providers: map[string]Provider{"one": &fakeProvider{name: "one"}}}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

// TestDispatchedListsOnlyWhomTheProviderCalled: the dispatched report names
// the people the provider says it called, and only them; the people it did
// not call on purpose (a rotation that stopped) are listed with why and not
// passed on; a person it does not mention goes to the next provider.
func TestDispatchedListsOnlyWhomTheProviderCalled(t *testing.T) {
	first := &fakeProvider{name: "first", skip: map[string]string{bob.Phone: "the rotation stopped: alice answered"},
		silent: map[string]bool{carol.Phone: true}}
	second := &fakeProvider{name: "second"}
	d, err := New(Config{Providers: map[string]Provider{"first": first, "second": second}})
	if err != nil {
		t.Fatal(err)
	}
	var reports []Report
	out := d.Dispatch(context.Background(), Request{Strategy: provider.Rotation, People: []provider.Person{alice, bob, carol}},
		chainOf("first", "second"), time.Minute, func(r Report) {
			if r.Kind != ReportAttempt {
				reports = append(reports, r)
			}
		})
	if len(reports) < 1 || reports[0].Kind != ReportDispatched || len(reports[0].People) != 1 || !samePerson(reports[0].People[0], alice) {
		t.Fatalf("first report %+v: want dispatched to alice alone", reports)
	}
	if nc := reports[0].NotCalled; len(nc) != 1 || !samePerson(nc[0].Person, bob) || nc[0].Reason != "the rotation stopped: alice answered" {
		t.Errorf("not called %+v: want bob, with why", nc)
	}
	calls := second.Calls()
	if len(calls) != 1 || len(calls[0].People) != 1 || !samePerson(calls[0].People[0], carol) {
		t.Errorf("the second provider got %+v: want carol alone (the first did not say it called her)", calls)
	}
	if got := out.Reached(); len(got) != 2 || len(out.NotCalled) != 1 || len(out.Unreached) != 0 {
		t.Errorf("outcome reached %v, not called %v, unreached %v", got, out.NotCalled, out.Unreached)
	}
}
