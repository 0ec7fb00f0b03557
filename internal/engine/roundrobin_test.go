package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

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

const roundRobinPolicy = `
name: desk
match: {labels: {team: desk}}
group_by: [ticket]
people:
  aiko: {phone: "+81 80-1234-5678"}
  kenji: {phone: "+81 90-1111-2222"}
  yuki: {phone: "+81 70-1234-5678"}
steps:
  - notify: [aiko, kenji, yuki]
    strategy: round_robin
    via:
      - iotcall: {rule: db-oncall}
    wait: 10m
`

// TestRoundRobinAcrossEscalations: two workers share the position: six
// escalations call each of three people twice, one person each, as single.
func TestRoundRobinAcrossEscalations(t *testing.T) {
	r := newRigWith(t, roundRobinPolicy)
	r.startWorker(t, nil)
	r.startWorker(t, nil)
	calls := map[string]int{}
	for i := range 6 {
		r.publish("alerts.prometheus", fmt.Sprintf(`{"id":"t%d","status":"firing","labels":{"team":"desk","ticket":"%d"}}`, i, i))
	}
	for n := 0; n < 6; {
		select {
		case got := <-r.events:
			if got.Event != "dispatched" {
				continue
			}
			if len(got.People) != 1 {
				t.Fatalf("dispatched %+v: want one person", got)
			}
			calls[got.People[0].Name]++
			n++
		case <-time.After(waitFor):
			t.Fatalf("dispatched %v so far, want 6", calls)
		}
	}
	if calls["aiko"] != 2 || calls["kenji"] != 2 || calls["yuki"] != 2 {
		t.Fatalf("calls by person %v, want two each", calls)
	}
	for _, c := range r.iot.Calls() {
		if len(c.Tels) != 1 {
			t.Fatalf("IoTCall rang %v at once: a round-robin step calls one person", c.Tels)
		}
	}
}
