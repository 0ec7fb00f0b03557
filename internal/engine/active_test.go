package engine

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
)

// TestActiveCountReadsTheTail: between full reads the count follows the
// records written since the last count; a full read, every fullCountEvery,
// also catches what was removed without a record (a purge by hand).
func TestActiveCountReadsTheTail(t *testing.T) {
	r := newRig(t)
	w := r.startWorker(t, nil)
	ctx := context.Background()
	kv := w.eng.st.kv
	put := func(key, status string) {
		t.Helper()
		if _, err := kv.Put(ctx, key, []byte(`{"state":{"status":"`+status+`"}}`)); err != nil {
			t.Fatal(err)
		}
	}
	var c activeCount
	now := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	count := func(at time.Time, want int) {
		t.Helper()
		if n, err := c.count(ctx, w.eng, at); err != nil || n != want {
			t.Fatalf("count at %s = %d, %v; want %d", at.Format(time.TimeOnly), n, err, want)
		}
	}
	put("e.k1", "active")
	put("e.k2", "active")
	put("e.k3", "exhausted")
	count(now, 2)

	put("e.k2", "acknowledged")
	put("e.k4", "active")
	if err := kv.Delete(ctx, "e.k1"); err != nil {
		t.Fatal(err)
	}
	count(now.Add(time.Minute), 1) // k4

	// Removed by hand, without a record: the tail does not show it...
	s, err := r.js.Stream(ctx, "KV_"+natsx.BucketEscalations)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject("$KV."+natsx.BucketEscalations+".e.k4")); err != nil {
		t.Fatal(err)
	}
	count(now.Add(2*time.Minute), 1)
	// ...the next full read does.
	count(now.Add(fullCountEvery), 0)
	put("e.k5", "active")
	count(now.Add(fullCountEvery+time.Minute), 1)
}
