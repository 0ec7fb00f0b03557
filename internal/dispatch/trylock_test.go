package dispatch

import (
	"context"
	"errors"
	"testing"
	"time"
)

// waitRefs waits until key has n holders and waiters in l: nothing signals
// that a goroutine has queued, so this polls, with a deadline.
func waitRefs(t *testing.T, l *LocalLocker, key string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		k, ok := l.locks[key]
		got := ok && k.refs == n
		l.mu.Unlock()
		if got {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never had %d holders and waiters", key, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLocalLockerTryLock(t *testing.T) {
	ctx := context.Background()
	try := func(t *testing.T, l *LocalLocker, key string) (func(), bool) {
		t.Helper()
		unlock, ok, err := l.TryLock(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (unlock != nil) {
			t.Fatalf("TryLock: ok %v with unlock %v", ok, unlock != nil)
		}
		return unlock, ok
	}

	t.Run("free: taken, and Lock waits for it", func(t *testing.T) {
		var l LocalLocker
		unlock, ok := try(t, &l, "r1")
		if !ok {
			t.Fatal("TryLock on a free key: busy")
		}
		got := make(chan struct{})
		go func() {
			if u, err := l.Lock(ctx, "r1"); err == nil {
				u()
			}
			close(got)
		}()
		waitRefs(t, &l, "r1", 2)
		select {
		case <-got:
			t.Fatal("Lock got a key TryLock holds")
		default:
		}
		unlock()
		unlock() // safe twice
		<-got
	})

	t.Run("held: busy; released: taken", func(t *testing.T) {
		var l LocalLocker
		unlock, err := l.Lock(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := try(t, &l, "r1"); ok {
			t.Fatal("TryLock on a held key: taken")
		}
		if u, ok := try(t, &l, "r2"); !ok {
			t.Fatal("TryLock on another key: busy")
		} else {
			u()
		}
		unlock()
		u, ok := try(t, &l, "r1")
		if !ok {
			t.Fatal("TryLock on a released key: busy")
		}
		u()
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.locks) != 0 {
			t.Fatalf("released keys still in the map: %v", l.locks)
		}
	})

	t.Run("a waiter comes first", func(t *testing.T) {
		var l LocalLocker
		unlock, err := l.Lock(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		waited := make(chan func())
		go func() {
			u, err := l.Lock(ctx, "r1")
			if err != nil {
				t.Error(err)
			}
			waited <- u
		}()
		waitRefs(t, &l, "r1", 2)
		if _, ok := try(t, &l, "r1"); ok {
			t.Fatal("TryLock took a key held and waited for")
		}
		unlock()
		u := <-waited
		if _, ok := try(t, &l, "r1"); ok {
			t.Fatal("TryLock took the key the waiter got")
		}
		u()
	})

	t.Run("a waiter between a release and its turn", func(t *testing.T) {
		// The moment a waiter has queued (refs counted) and not yet taken
		// the free slot: a try must leave the key to it.
		var l LocalLocker
		l.locks = map[string]*localLock{"r1": {ch: make(chan struct{}, 1), refs: 1}}
		if _, ok := try(t, &l, "r1"); ok {
			t.Fatal("TryLock jumped ahead of a queued waiter")
		}
	})

	t.Run("context ended", func(t *testing.T) {
		var l LocalLocker
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if u, ok, err := l.TryLock(cctx, "r1"); !errors.Is(err, context.Canceled) || ok || u != nil {
			t.Fatalf("TryLock with a cancelled context = %v, %v, want context.Canceled", ok, err)
		}
	})
}
