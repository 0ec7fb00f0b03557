package kvlock

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/natsx/natstest"
)

// waitQueued polls until n goroutines queue for key in l: nothing signals
// that a goroutine has reached the select, so this polls, with a deadline.
func waitQueued(t *testing.T, l *Locker, key string, n int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if v, ok := l.local.Load(key); ok && v.(*local).waiting.Load() == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines never queued for %s", n, key)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHandoffKeepsTheSharedLock: goroutines of one process waiting for a
// key get the lock handed on without a release and a create each.
func TestHandoffKeepsTheSharedLock(t *testing.T) {
	s := natstest.RunServer(t, "")
	_, js := natstest.Connect(t, s)
	ctx := context.Background()
	l, err := New(ctx, js, Config{Bucket: "escalator_locks"})
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := l.Lock(ctx, "iotcall.r1")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := l.Lock(ctx, "iotcall.r1")
			if err != nil {
				t.Error(err)
				return
			}
			u()
		}()
	}
	waitQueued(t, l, "iotcall.r1", 5)
	unlock()
	wg.Wait()
	st, err := js.Stream(ctx, "KV_escalator_locks")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// One create and one purge for six holders.
	if info.State.LastSeq != 2 {
		t.Fatalf("the bucket saw %d writes for six holders in a row, want 2 (one create, one release)", info.State.LastSeq)
	}
}

// TestAbandonedHandoffIsReleased: a waiter that gives up, whether or not the
// lock was being handed to it, leaves the key free for other processes, not
// held until its TTL.
func TestAbandonedHandoffIsReleased(t *testing.T) {
	s := natstest.RunServer(t, "")
	ctx := context.Background()
	var ls []*Locker
	for range 2 {
		_, js := natstest.Connect(t, s)
		l, err := New(ctx, js, Config{Bucket: "escalator_locks", Retry: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	for round := range 5 {
		unlock, err := ls[0].Lock(ctx, "iotcall.r1")
		if err != nil {
			t.Fatal(err)
		}
		bctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if u, err := ls[0].Lock(bctx, "iotcall.r1"); err == nil {
				u()
			}
		}()
		waitQueued(t, ls[0], "iotcall.r1", 1)
		if round%2 == 0 {
			cancel() // gives up before the release ...
			unlock()
		} else {
			unlock() // ... or as it is being handed the lock
			cancel()
		}
		<-done
		// Far less than the 30s TTL: the key must be free.
		short, cancel2 := context.WithTimeout(ctx, 5*time.Second)
		u, err := ls[1].Lock(short, "iotcall.r1")
		cancel2()
		if err != nil {
			t.Fatalf("round %d: another process cannot take the key: %v", round, err)
		}
		u()
	}
}

// TestHandoffToAWaiterGivingUp: a holder hands the lock on as its last
// waiter gives up, the two at once. Whichever way they interleave, the key
// is free in the bucket once both are done — not held by nobody until its
// TTL (the waiter, finding the slot still held, left the release to the
// holder, which had already decided to hand on).
func TestHandoffToAWaiterGivingUp(t *testing.T) {
	s := natstest.RunServer(t, "")
	ctx := context.Background()
	var ls []*Locker
	for range 2 {
		_, js := natstest.Connect(t, s)
		l, err := New(ctx, js, Config{Bucket: "escalator_locks", Retry: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	for round := range 300 {
		unlock, err := ls[0].Lock(ctx, "iotcall.r1")
		if err != nil {
			t.Fatal(err)
		}
		bctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if u, err := ls[0].Lock(bctx, "iotcall.r1"); err == nil {
				u()
			}
		}()
		waitQueued(t, ls[0], "iotcall.r1", 1)
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); <-start; cancel() }()
		go func() { defer wg.Done(); <-start; unlock() }()
		close(start)
		wg.Wait()
		<-done
		u, ok, err := ls[1].TryLock(ctx, "iotcall.r1")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Fatalf("round %d: the key is still held after its holder and its waiter are gone", round)
		}
		u()
	}
}
