package kvlock

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx/natstest"
)

// twoProcesses returns two Lockers on one bucket, each on its own
// connection, as two worker replicas have.
func twoProcesses(t *testing.T) (a, b *Locker) {
	t.Helper()
	s := natstest.RunServer(t, "")
	var ls []*Locker
	for range 2 {
		_, js := natstest.Connect(t, s)
		l, err := New(context.Background(), js, Config{Bucket: "escalator_locks", Retry: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	return ls[0], ls[1]
}

// try calls TryLock and fails t on an error or an inconsistent answer.
func try(t *testing.T, l *Locker, key string) (func(), bool) {
	t.Helper()
	unlock, ok, err := l.TryLock(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if ok != (unlock != nil) {
		t.Fatalf("TryLock: ok %v with unlock %v", ok, unlock != nil)
	}
	return unlock, ok
}

// lastSeq is the sequence of the bucket's last write.
func lastSeq(t *testing.T, l *Locker) uint64 {
	t.Helper()
	st, err := l.kv.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.(*jetstream.KeyValueBucketStatus).StreamInfo().State.LastSeq
}

// held reports whether l's Lock on key still waits after a short while (a
// bound for a test that expects it to wait, not a measure).
func held(t *testing.T, l *Locker, key string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	u, err := l.Lock(ctx, key)
	if err == nil {
		u()
		return false
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	return true
}

func TestTryLock(t *testing.T) {
	ctx := context.Background()

	t.Run("free: taken, across processes", func(t *testing.T) {
		a, b := twoProcesses(t)
		unlock, ok := try(t, b, "iotcall.r1")
		if !ok {
			t.Fatal("TryLock on a free key: busy")
		}
		if !held(t, a, "iotcall.r1") {
			t.Fatal("another process locked a key TryLock holds")
		}
		if _, ok := try(t, a, "iotcall.r1"); ok {
			t.Fatal("another process's TryLock took a key TryLock holds")
		}
		if _, ok := try(t, b, "iotcall.r1"); ok {
			t.Fatal("a second TryLock in the same process took the key")
		}
		unlock()
		unlock() // safe twice
		u, ok := try(t, a, "iotcall.r1")
		if !ok {
			t.Fatal("TryLock on a released key: busy")
		}
		u()
	})

	t.Run("held elsewhere: busy, then taken once released", func(t *testing.T) {
		a, b := twoProcesses(t)
		unlock, err := a.Lock(ctx, "iotcall.r1")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := try(t, b, "iotcall.r1"); ok {
			t.Fatal("TryLock took a key another process holds")
		}
		if _, ok := try(t, a, "iotcall.r1"); ok {
			t.Fatal("TryLock took a key its own process holds")
		}
		if u, ok := try(t, b, "iotcall.r2"); !ok {
			t.Fatal("TryLock on another key: busy")
		} else {
			u()
		}
		unlock()
		u, ok := try(t, b, "iotcall.r1")
		if !ok {
			t.Fatal("TryLock on a released key: busy")
		}
		u()
	})

	t.Run("a waiter of the process comes first", func(t *testing.T) {
		a, b := twoProcesses(t)
		unlock, err := a.Lock(ctx, "iotcall.r1")
		if err != nil {
			t.Fatal(err)
		}
		waited := make(chan func())
		go func() {
			u, err := a.Lock(ctx, "iotcall.r1")
			if err != nil {
				t.Error(err)
			}
			waited <- u
		}()
		waitQueued(t, a, "iotcall.r1", 1)
		if _, ok := try(t, a, "iotcall.r1"); ok {
			t.Fatal("TryLock took a key held and waited for")
		}
		unlock() // handed on to the waiter
		u := <-waited
		if _, ok := try(t, a, "iotcall.r1"); ok {
			t.Fatal("TryLock took the key handed to the waiter")
		}
		if _, ok := try(t, b, "iotcall.r1"); ok {
			t.Fatal("another process's TryLock took the key handed to the waiter")
		}
		u()
		if u, ok := try(t, b, "iotcall.r1"); !ok {
			t.Fatal("TryLock after the waiter's release: busy")
		} else {
			u()
		}
	})

	t.Run("a waiter between a release and its turn", func(t *testing.T) {
		// The moment a goroutine has queued and not yet taken the free
		// slot: a try must leave the key to it.
		a, _ := twoProcesses(t)
		v, _ := a.local.LoadOrStore("iotcall.r1", &local{slot: make(chan struct{}, 1)})
		v.(*local).waiting.Add(1)
		if _, ok := try(t, a, "iotcall.r1"); ok {
			t.Fatal("TryLock jumped ahead of a queued waiter")
		}
	})

	t.Run("a try that finds the key busy writes nothing and leaves no trace", func(t *testing.T) {
		a, b := twoProcesses(t)
		unlock, err := a.Lock(ctx, "iotcall.r1")
		if err != nil {
			t.Fatal(err)
		}
		before := lastSeq(t, b)
		for range 3 {
			if _, ok := try(t, b, "iotcall.r1"); ok {
				t.Fatal("TryLock took a held key")
			}
		}
		if after := lastSeq(t, b); after != before {
			t.Fatalf("three failed tries wrote %d times to the bucket, want none", after-before)
		}
		unlock()
		// b's failed tries hold nothing: b's Lock gets the key at once.
		if held(t, b, "iotcall.r1") {
			t.Fatal("a failed TryLock left the key locked in its process")
		}
	})

	t.Run("context ended", func(t *testing.T) {
		a, _ := twoProcesses(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if u, ok, err := a.TryLock(cctx, "iotcall.r1"); !errors.Is(err, context.Canceled) || ok || u != nil {
			t.Fatalf("TryLock with a cancelled context = %v, %v, want context.Canceled", ok, err)
		}
	})
}
