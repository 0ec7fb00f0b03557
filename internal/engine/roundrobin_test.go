package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
)

// TestPositionsSharedByWorkers: two workers (connections of their own)
// taking round-robin picks at once share one order — every pick a number
// of its own, none skipped — and asking again for the same escalation's
// step gets the same pick, also after a restart.
func TestPositionsSharedByWorkers(t *testing.T) {
	srv := natstest.RunServer(t, "")
	ctx := context.Background()
	var workers []positions
	for range 2 {
		_, js := natstest.Connect(t, srv)
		if err := natsx.EnsureEngine(ctx, js, natsx.Topology{}); err != nil {
			t.Fatal(err)
		}
		kv, err := js.KeyValue(ctx, natsx.BucketPositions)
		if err != nil {
			t.Fatal(err)
		}
		workers = append(workers, newPositions(js, kv))
	}
	const each = 40
	got := make([][]uint64, 2)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n, err := workers[w].pick(ctx, "roster/db-primary", fmt.Sprintf("w%d-esc%d/step/0", w, i))
				if err != nil {
					t.Error(err)
					return
				}
				got[w] = append(got[w], n)
			}
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for _, ns := range got {
		for _, n := range ns {
			if seen[n] {
				t.Fatalf("pick %d given twice: %v", n, got)
			}
			seen[n] = true
		}
	}
	for n := range uint64(2 * each) {
		if !seen[n] {
			t.Fatalf("pick %d skipped: %v", n, got)
		}
	}
	// The same escalation's step again (a redelivery, another worker, a
	// restarted one): the same pick, and the order goes on.
	_, js := natstest.Connect(t, srv)
	kv, _ := js.KeyValue(ctx, natsx.BucketPositions)
	restarted := newPositions(js, kv)
	if n, err := restarted.pick(ctx, "roster/db-primary", "w1-esc7/step/0"); err != nil || n != got[1][7] {
		t.Fatalf("asked again: %d %v, want %d", n, err, got[1][7])
	}
	if n, err := restarted.pick(ctx, "roster/db-primary", "new/step/0"); err != nil || n != 2*each {
		t.Fatalf("next pick %d %v, want %d", n, err, 2*each)
	}
	// Another set of candidates has its own position.
	if n, err := restarted.pick(ctx, "policy/web/step/1", "new/step/1"); err != nil || n != 0 {
		t.Fatalf("another key: %d %v, want 0", n, err)
	}
}
