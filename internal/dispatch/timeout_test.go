package dispatch

import (
	"context"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/provider"
)

// deadlineProvider records the deadline of each attempt's context. Its
// attempts need 2s a person beyond the first (as a Yemot rotation does).
type deadlineProvider struct {
	name string
	got  chan time.Duration
}

func (p *deadlineProvider) AttemptTimeout(base time.Duration, req Request) time.Duration {
	if req.Strategy != provider.Rotation {
		return base
	}
	return base + time.Duration(len(req.People)-1)*2*time.Second
}

func (p *deadlineProvider) Name() string { return p.name }

func (p *deadlineProvider) Call(ctx context.Context, req Request) (Result, error) {
	dl, _ := ctx.Deadline()
	p.got <- time.Until(dl)
	return Result{Provider: p.name, Reached: req.People}, nil
}

// TestRotationOutlivesRequestTimeout: the Dispatcher gives an attempt the
// time its provider says it needs (AttemptTimer), not just RequestTimeout.
func TestRotationOutlivesRequestTimeout(t *testing.T) {
	for _, tc := range []struct {
		name     string
		strategy provider.Strategy
		min, max time.Duration
	}{
		{"rotation", provider.Rotation, 4 * time.Second, 5 * time.Second},
		{"broadcast", provider.Broadcast, 0, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &deadlineProvider{name: "yemot", got: make(chan time.Duration, 1)}
			d, err := New(Config{Providers: map[string]Provider{"yemot": p}, RequestTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			req := Request{Strategy: tc.strategy, People: []provider.Person{alice, bob, carol}}
			chain := []provider.Via{{Provider: "yemot"}}
			out := d.Dispatch(context.Background(), req, chain, 30*time.Minute, nil)
			if len(out.Unreached) != 0 {
				t.Fatalf("unreached %+v", out.Unreached)
			}
			if got := <-p.got; got <= tc.min || got > tc.max {
				t.Errorf("attempt had %s, want in (%s, %s]", got, tc.min, tc.max)
			}
		})
	}
}
