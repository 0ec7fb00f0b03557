package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/provider"
)

// fakeProvider is an in-test Provider that answers from a script of errors:
// the n-th call returns script[n] (nil: accepted), then nil forever.
type fakeProvider struct {
	name   string
	script []error
	// failed lists numbers the provider refuses individually; skip the
	// ones it does not call on purpose; silent the ones its Result does
	// not mention at all.
	failed, skip map[string]string
	silent       map[string]bool
	// refuseEach: when every person is failed, return the Result with a
	// permanent error, as a provider does that refuses a request for its
	// numbers, one by one (Yemot's numbers all in `errors`; IoTCall with
	// no number it can dial).
	refuseEach bool
	// before, when set, runs at the start of the n-th call (from 0).
	before func(n int, req Request)

	mu    sync.Mutex
	calls []Request
}

func (f *fakeProvider) Name() string { return f.name }

func (f *fakeProvider) Call(ctx context.Context, req Request) (Result, error) {
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, req)
	f.mu.Unlock()
	if f.before != nil {
		f.before(n, req)
	}
	for _, p := range req.People {
		// The contract: a request carries the one number to call now.
		if len(p.Alternates) > 0 || len(p.ByProvider) > 0 {
			return Result{}, fmt.Errorf("fake: %s comes with more than the number to call: %+v", p.Name, p)
		}
	}
	if n < len(f.script) && f.script[n] != nil {
		return Result{}, f.script[n]
	}
	res := Result{Provider: f.name, References: []string{f.name + "-ref"}}
	for _, p := range req.People {
		if why, ok := f.failed[p.Phone]; ok {
			res.Failed = append(res.Failed, provider.Unreached{Person: p, Reason: why})
			continue
		}
		if why, ok := f.skip[p.Phone]; ok {
			res.NotCalled = append(res.NotCalled, provider.Unreached{Person: p, Reason: why})
			continue
		}
		if f.silent[p.Phone] {
			continue
		}
		res.Reached = append(res.Reached, p)
	}
	if f.refuseEach && len(res.Reached) == 0 && len(res.NotCalled) == 0 && len(res.Failed) == len(req.People) {
		return res, errors.New("fake: nobody was called")
	}
	return res, nil
}

func (f *fakeProvider) Calls() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.calls...)
}

var (
	alice = provider.Person{Name: "alice", Phone: "+818043391234"}
	bob   = provider.Person{Name: "bob", Phone: "+818043391235"}
	carol = provider.Person{Name: "carol", Phone: "+972501234567"}

	errUnavailable = Retryable(errors.New("fake: 503 Service Unavailable"), 0)
	errBadRequest  = errors.New("fake: 400 Bad Request")
)

// drive runs f in a goroutine and advances clk through every wait f makes
// until f returns. Each wait is met exactly when f is waiting on it.
func drive(t *testing.T, clk *clock.Fake, step time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	for {
		waiting := make(chan struct{})
		go func() {
			clk.WaitForWaiters(1)
			close(waiting)
		}()
		select {
		case <-done:
			// Let the helper goroutine end: give it a waiter to see.
			clk.After(time.Hour)
			<-waiting
			return
		case <-waiting:
			clk.Advance(step)
		}
	}
}

// collect returns a report func and a way to read what it got.
func collect() (func(Report), func() []Report) {
	var mu sync.Mutex
	var got []Report
	return func(r Report) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, r)
		}, func() []Report {
			mu.Lock()
			defer mu.Unlock()
			return append([]Report(nil), got...)
		}
}

func kinds(rs []Report) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Kind) + ":" + r.Provider
	}
	return out
}
