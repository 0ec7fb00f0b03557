package iotcall_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall/iotcallsim"
	"github.com/escalator-oss/escalator/internal/kvlock"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/provider"
)

// signalling wraps a Locker and says when the second Lock call starts.
type signalling struct {
	dispatch.Locker
	n      *atomic.Int32
	second chan struct{}
}

func (s *signalling) Lock(ctx context.Context, key string) (func(), error) {
	if s.n.Add(1) == 2 {
		close(s.second)
	}
	return s.Locker.Lock(ctx, key)
}

// noLock is a broken Locker, to prove the test can see an interleaving.
type noLock struct{}

func (noLock) Lock(context.Context, string) (func(), error) { return func() {}, nil }

var (
	escA = []provider.Person{alice, bob}
	escB = []provider.Person{
		{Name: "erin", Phone: "+818043391236"},
		{Name: "frank", Phone: "+818043391237"},
	}
	telsA = "08043391234,08043391235"
	telsB = "08043391236,08043391237"
)

// kvLockers returns two Lockers on one bucket, each on its own connection,
// as two worker replicas have.
func kvLockers(t *testing.T) [2]dispatch.Locker {
	s := natstest.RunServer(t, "")
	var out [2]dispatch.Locker
	for i := range out {
		_, js := natstest.Connect(t, s)
		l, err := kvlock.New(context.Background(), js, kvlock.Config{Bucket: "escalator_locks", Retry: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = l
	}
	return out
}

// TestCriticalSection runs two escalations on one rule at once. The first
// PUT's response is held until the other escalation is trying to lock (or,
// with the broken locker, has replaced the list), so an interleaving would
// happen if the lock let it.
func TestCriticalSection(t *testing.T) {
	tests := []struct {
		name        string
		lockers     func(t *testing.T) [2]dispatch.Locker
		wantBlended bool // the broken locker: calls ring the wrong people
	}{
		{name: "in-process locker", lockers: func(*testing.T) [2]dispatch.Locker {
			l := &dispatch.LocalLocker{}
			return [2]dispatch.Locker{l, l}
		}},
		{name: "jetstream kv locker, two replicas", lockers: kvLockers},
		{name: "no lock (control: the test sees the bug)", lockers: func(*testing.T) [2]dispatch.Locker {
			return [2]dispatch.Locker{noLock{}, noLock{}}
		}, wantBlended: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := iotcallsim.NewServer(authCode)
			defer srv.Close()
			srv.AddRule("r1", iotcallsim.Broadcast)
			var n atomic.Int32
			second := make(chan struct{})
			ls := tt.lockers(t)

			var puts atomic.Int32
			secondPut := make(chan struct{})
			srv.SetHook(func(r iotcallsim.Request) {
				if r.Method != http.MethodPut {
					return
				}
				switch puts.Add(1) {
				case 1:
					if tt.wantBlended {
						<-secondPut // the other list replaced ours
					} else {
						<-second // the other escalation waits for the lock
					}
				case 2:
					close(secondPut)
				}
			})

			// Two clients, as two escalations (or two replicas) would use.
			var wg sync.WaitGroup
			errs := make(chan error, 2)
			for i, people := range [][]provider.Person{escA, escB} {
				lk := &signalling{Locker: ls[i], n: &n, second: second}
				c := newClient(t, srv.URL(), func(c *iotcall.Config) { c.Locker = lk })
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := c.Call(context.Background(), request("r1", people...))
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}

			var seq []string
			for _, r := range srv.Requests() {
				seq = append(seq, r.Method)
			}
			var rung []string
			for _, c := range srv.Calls() {
				rung = append(rung, strings.Join(c.Tels, ","))
			}
			slices.Sort(rung)
			ok := strings.Join(seq, " ") == "PUT POST PUT POST" &&
				strings.Join(rung, " ") == telsA+" "+telsB
			if ok == tt.wantBlended {
				t.Fatalf("requests %v, calls rang %v; want PUT POST PUT POST with each call ringing one escalation's numbers (blended expected: %v)",
					seq, rung, tt.wantBlended)
			}
		})
	}
}
