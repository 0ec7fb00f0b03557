package dispatch

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestLocalLocker(t *testing.T) {
	var l LocalLocker
	ctx := context.Background()

	t.Run("mutual exclusion per key", func(t *testing.T) {
		var mu sync.Mutex
		inside, maxInside := 0, 0
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				unlock, err := l.Lock(ctx, "rule-a")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				inside++
				maxInside = max(maxInside, inside)
				mu.Unlock()
				mu.Lock()
				inside--
				mu.Unlock()
				unlock()
				unlock() // safe twice
			}()
		}
		wg.Wait()
		if maxInside != 1 {
			t.Fatalf("%d holders at once, want 1", maxInside)
		}
	})

	t.Run("other keys are independent", func(t *testing.T) {
		ua, err := l.Lock(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		defer ua()
		ub, err := l.Lock(ctx, "b")
		if err != nil {
			t.Fatalf("lock b while a is held: %v", err)
		}
		ub()
	})

	t.Run("waiter gives up when its context ends", func(t *testing.T) {
		unlock, _ := l.Lock(ctx, "held")
		defer unlock()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := l.Lock(cctx, "held"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Lock on a held key with a cancelled context = %v", err)
		}
	})

	t.Run("unused keys are dropped", func(t *testing.T) {
		unlock, _ := l.Lock(ctx, "tmp")
		unlock()
		l.mu.Lock()
		defer l.mu.Unlock()
		if _, ok := l.locks["tmp"]; ok {
			t.Fatal("released key still in the map")
		}
	})
}
