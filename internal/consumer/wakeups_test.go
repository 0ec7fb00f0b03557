package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
)

// retryAfter is a handler's error that says when to try again.
type retryAfter time.Duration

func (r retryAfter) Error() string             { return "busy" }
func (r retryAfter) RetryAfter() time.Duration { return time.Duration(r) }

// TestWakeupRetryAfter: a wake-up whose handler says when to try again (a
// step whose lease another worker holds: when it runs out) comes back
// then, not after the backoff (here an hour).
func TestWakeupRetryAfter(t *testing.T) {
	s := natstest.RunServer(t, "")
	_, js := natstest.Connect(t, s)
	ctx := context.Background()
	topo := natsx.Topology{}
	if err := natsx.EnsureEngine(ctx, js, topo); err != nil {
		t.Fatal(err)
	}
	deliveries := make(chan uint64, 10)
	w, err := NewWakeups(WakeupsConfig{JS: js, Topology: topo, Workers: 1,
		RedeliveryDelay: func(uint64) time.Duration { return time.Hour },
		Handler: WakeupFunc(func(ctx context.Context, wu Wakeup) error {
			deliveries <- wu.NumDelivered
			if wu.NumDelivered == 1 {
				return retryAfter(50 * time.Millisecond)
			}
			return nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if _, err := js.Publish(ctx, natsx.DueSubject("e.k1"), []byte("wake")); err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 2; want++ {
		select {
		case n := <-deliveries:
			if n != want {
				t.Fatalf("delivery %d, want %d", n, want)
			}
		case <-time.After(waitFor):
			t.Fatalf("no delivery %d within %v: the handler's RetryAfter was not honoured", want, waitFor)
		}
	}
}
