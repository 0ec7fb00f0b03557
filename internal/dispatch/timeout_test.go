package dispatch

import (
	"context"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/provider"
)

func TestAttemptTimeout(t *testing.T) {
	three := []provider.Person{alice, bob, carol}
	for _, tc := range []struct {
		name string
		req  Request
		want time.Duration
	}{
		{"yemot rotation, ring set", Request{Strategy: provider.Rotation, People: three,
			Via: Via{Provider: Yemot, Yemot: &YemotVia{Ring: 20 * time.Second}}}, 10*time.Second + 40*time.Second},
		{"yemot rotation, default ring", Request{Strategy: provider.Rotation, People: three,
			Via: Via{Provider: Yemot}}, 10*time.Second + 2*YemotDefaultRing},
		{"yemot rotation of one", Request{Strategy: provider.Rotation, People: three[:1],
			Via: Via{Provider: Yemot, Yemot: &YemotVia{Ring: 20 * time.Second}}}, 10 * time.Second},
		{"yemot broadcast", Request{Strategy: provider.Broadcast, People: three,
			Via: Via{Provider: Yemot, Yemot: &YemotVia{Ring: 20 * time.Second}}}, 10 * time.Second},
		{"iotcall rotation (IoTCall rotates on its side)", Request{Strategy: provider.Rotation, People: three,
			Via: Via{Provider: IoTCall, IoTCall: &IoTCallVia{Rule: "r"}}}, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := attemptTimeout(10*time.Second, tc.req); got != tc.want {
				t.Errorf("attemptTimeout = %s, want %s", got, tc.want)
			}
		})
	}
}

// deadlineProvider records the deadline of each attempt's context.
type deadlineProvider struct {
	name string
	got  chan time.Duration
}

func (p *deadlineProvider) Name() string { return p.name }

func (p *deadlineProvider) Call(ctx context.Context, req Request) (Result, error) {
	dl, _ := ctx.Deadline()
	p.got <- time.Until(dl)
	return Result{Provider: p.name, Reached: req.People}, nil
}

// TestRotationOutlivesRequestTimeout: the Dispatcher gives a Yemot rotation's
// attempt room for every person's ring, not just RequestTimeout.
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
			p := &deadlineProvider{name: Yemot, got: make(chan time.Duration, 1)}
			d, err := New(Config{Providers: map[string]Provider{Yemot: p}, RequestTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			req := Request{Strategy: tc.strategy, People: []provider.Person{alice, bob, carol}}
			chain := []Via{{Provider: Yemot, Yemot: &YemotVia{Ring: 2 * time.Second}}}
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
