package kvlock_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/escalator-oss/escalator/internal/kvlock"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
)

// replicas returns n Lockers on one bucket, each on its own connection, as
// n worker replicas would have.
func replicas(t *testing.T, n int, ttl time.Duration) []*kvlock.Locker {
	t.Helper()
	s := natstest.RunServer(t, "")
	var out []*kvlock.Locker
	for range n {
		_, js := natstest.Connect(t, s)
		l, err := kvlock.New(context.Background(), js, kvlock.Config{Bucket: "escalator_locks", TTL: ttl, Retry: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func TestLockExcludesAcrossReplicas(t *testing.T) {
	ls := replicas(t, 2, 30*time.Second)
	ctx := context.Background()
	unlock, err := ls[0].Lock(ctx, "iotcall.r1")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("held elsewhere: waiter gives up with its context", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if _, err := ls[1].Lock(short, "iotcall.r1"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock on a held key = %v, want deadline exceeded", err)
		}
	})

	t.Run("other keys are free", func(t *testing.T) {
		u, err := ls[1].Lock(ctx, "iotcall.r2")
		if err != nil {
			t.Fatal(err)
		}
		u()
	})

	t.Run("released: the waiter gets it", func(t *testing.T) {
		got := make(chan error, 1)
		go func() {
			u, err := ls[1].Lock(ctx, "iotcall.r1")
			if err == nil {
				u()
			}
			got <- err
		}()
		unlock()
		unlock() // safe twice
		if err := <-got; err != nil {
			t.Fatal(err)
		}
	})
}

func TestLockHoldersNeverOverlap(t *testing.T) {
	ls := replicas(t, 2, 30*time.Second)
	var mu sync.Mutex
	inside, maxInside, total := 0, 0, 0
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := ls[i%2].Lock(context.Background(), "iotcall/rule with spaces")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			total++
			maxInside = max(maxInside, inside)
			mu.Unlock()
			mu.Lock()
			inside--
			mu.Unlock()
			unlock()
		}()
	}
	wg.Wait()
	if maxInside != 1 || total != 8 {
		t.Fatalf("max holders at once = %d (want 1), total = %d (want 8)", maxInside, total)
	}
}

func TestLockExpiresAndStaleUnlockIsHarmless(t *testing.T) {
	ls := replicas(t, 2, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	crashed, err := ls[0].Lock(ctx, "iotcall.r1") // a holder that never releases in time
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	second, err := ls[1].Lock(ctx, "iotcall.r1")
	if err != nil {
		t.Fatalf("the lock did not expire: %v", err)
	}
	defer second()
	if waited := time.Since(start); waited < 500*time.Millisecond {
		t.Fatalf("got a held lock after %s, before its TTL", waited)
	}
	// The first holder's late unlock must not release the second's lock.
	crashed()
	short, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	if _, err := ls[0].Lock(short, "iotcall.r1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock after a stale unlock = %v, want it still held", err)
	}
}

func TestNewValidates(t *testing.T) {
	s := natstest.RunServer(t, "")
	_, js := natstest.Connect(t, s)
	for _, cfg := range []kvlock.Config{{}, {Bucket: "b", TTL: time.Millisecond}} {
		if _, err := kvlock.New(context.Background(), js, cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// TestRetakingCostsOneMessage: a process that released a key takes it
// again with one message, on the marker its release left (Create alone
// would take three); when another process took and released the key
// meanwhile, that fails and the key is taken the usual way. Locking and
// unlocking still exclude: each holder sees the key free.
func TestRetakingCostsOneMessage(t *testing.T) {
	s := natstest.RunServer(t, "")
	ctx := context.Background()
	var conns []*nats.Conn
	var ls []*kvlock.Locker
	for range 2 {
		nc, js := natstest.Connect(t, s)
		l, err := kvlock.New(ctx, js, kvlock.Config{Bucket: "escalator_locks", TTL: 30 * time.Second, Retry: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		conns, ls = append(conns, nc), append(ls, l)
	}
	lockCost := func(i int, try bool) uint64 {
		t.Helper()
		before := conns[i].Stats().OutMsgs
		var unlock func()
		var err error
		if try {
			var ok bool
			unlock, ok, err = ls[i].TryLock(ctx, "iotcall.r1")
			if err == nil && !ok {
				t.Fatalf("replica %d: TryLock found the free key busy", i)
			}
		} else {
			unlock, err = ls[i].Lock(ctx, "iotcall.r1")
		}
		if err != nil {
			t.Fatal(err)
		}
		n := conns[i].Stats().OutMsgs - before
		unlock()
		return n
	}
	lockCost(0, false) // the first take: no marker known
	if n := lockCost(0, false); n != 1 {
		t.Fatalf("Lock again after its own release: %d messages, want 1", n)
	}
	if n := lockCost(0, true); n != 1 {
		t.Fatalf("TryLock again after its own release: %d messages, want 1", n)
	}
	lockCost(1, false) // another replica takes and releases it
	if n := lockCost(0, false); n < 2 {
		t.Fatalf("Lock after another replica's release: %d messages; its marker is not ours", n)
	}
	// And the key is still exclusive.
	unlock, err := ls[0].Lock(ctx, "iotcall.r1")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, ok, err := ls[1].TryLock(ctx, "iotcall.r1"); err != nil || ok {
		t.Fatalf("TryLock of a held key: %v, %v", ok, err)
	}
}
