package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/consumer"
	"github.com/escalator-oss/escalator/internal/policy"
)

// TestOutboxSurvivesAWorkerThatDied: a worker that saved an
// acknowledgement and died before publishing it leaves the state
// acknowledged and its outcome in the record's outbox; whoever handles the
// escalation next (here the redelivered ack) publishes it, once, and clears
// the outbox.
//
// The worker that placed step 1 must be done with it first: "dispatched"
// is published while the calls are placed, before their result is saved,
// and that save (which the test's own would otherwise race) publishes the
// outbox too. A long wait keeps the step's wake-up away meanwhile.
func TestOutboxSurvivesAWorkerThatDied(t *testing.T) {
	r := newRigWith(t, strings.Replace(testPolicy, "wait: 1s", "wait: 10m", 1))
	w := r.startWorker(t, nil)
	ctx := context.Background()
	key := placedAndIdle(t, r, w)

	// What the dead worker saved: acknowledged, its outcome in the outbox.
	now := time.Now()
	if _, err := w.eng.update(ctx, key, func(cur *Escalation) (*Escalation, error) {
		return end(cur, policy.Ack, "aiko", viaAlert, now), nil
	}); err != nil {
		t.Fatal(err)
	}
	ack := consumer.Delivery{Event: alert.Event{ID: "pg-down", Status: alert.Acknowledged, By: "aiko"}, StreamSeq: 1000, NumDelivered: 2}

	acks := func() uint64 {
		st, err := r.js.Stream(ctx, "ESCALATIONS")
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx, jetstream.WithSubjectFilter("escalations.*.acknowledged"))
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, c := range info.State.Subjects {
			n += c
		}
		return n
	}
	if n := acks(); n != 0 {
		t.Fatalf("%d acknowledged outcomes before anyone published the outbox", n)
	}
	for i := range 2 {
		if err := w.eng.HandleAlert(ctx, ack); err != nil {
			t.Fatal(err)
		}
		if n := acks(); n != 1 {
			t.Fatalf("delivery %d: %d acknowledged outcomes, want 1", i+2, n)
		}
	}
	esc, _, err := w.eng.st.load(ctx, key)
	if err != nil || len(esc.Outbox) != 0 {
		t.Fatalf("outbox after publishing: %+v, %v", esc.Outbox, err)
	}
	if got := r.expect("acknowledged 0")[0]; got.By != "aiko" {
		t.Fatalf("acknowledged %+v", got)
	}
}

// waitEntry runs do (when given) and returns the first value of key, from
// the one it has now on, that done accepts.
func waitEntry(ctx context.Context, kv jetstream.KeyValue, key string, do func(), done func([]byte) bool) (jetstream.KeyValueEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	w, err := kv.Watch(ctx, key)
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop() }()
	if do != nil {
		do()
	}
	for {
		select {
		case e := <-w.Updates():
			if e != nil && e.Operation() == jetstream.KeyValuePut && done(e.Value()) {
				return e, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// TestCountActiveInBatches counts past one batch, skipping deleted records.
func TestCountActiveInBatches(t *testing.T) {
	r := newRig(t)
	w := r.startWorker(t, nil)
	ctx := context.Background()
	if n, err := w.eng.CountActive(ctx); err != nil || n != 0 {
		t.Fatalf("empty bucket: CountActive = %d, %v", n, err)
	}
	for i := range 1203 {
		status := "active"
		if i%3 == 0 {
			status = "exhausted"
		}
		if _, err := w.eng.st.kv.Put(ctx, fmt.Sprintf("e.k%d", i), []byte(`{"state":{"status":"`+status+`"}}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.eng.st.kv.Delete(ctx, "e.k1"); err != nil {
		t.Fatal(err)
	}
	if n, err := w.eng.CountActive(ctx); err != nil || n != 801 {
		t.Fatalf("CountActive = %d, %v; want 801", n, err)
	}
}

// TestScanWhileRecordsChange: records rewritten while the bucket is read are
// each counted once. A record replaced after the consumer listed it comes
// only later in the stream; small batches end the read before that (without
// the final check of the keys that exist, this fails).
func TestScanWhileRecordsChange(t *testing.T) {
	r := newRig(t)
	w := r.startWorker(t, nil)
	ctx := context.Background()
	const keys = 1200
	rec := `{"id":"x","state":{"status":"active"}}`
	for i := range keys {
		if _, err := w.eng.st.kv.Put(ctx, fmt.Sprintf("e.k%d", i), []byte(rec)); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { // rewrite records, in no order, as long as the test reads
		defer close(done)
		for i := 0; ; i = (i + 7919) % keys {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := w.eng.st.kv.Put(ctx, fmt.Sprintf("e.k%d", i), []byte(rec)); err != nil {
				done <- err
				return
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	defer func(n int) { scanBatch = n }(scanBatch)
	for i := range 10 {
		scanBatch = []int{500, 40}[i%2]
		if n, err := w.eng.CountActive(ctx); err != nil || n != keys {
			t.Fatalf("scan %d: CountActive = %d, %v; want %d", i, n, err, keys)
		}
		if list, err := w.eng.Active(ctx); err != nil || len(list) != keys {
			t.Fatalf("scan %d: Active listed %d (%v), want %d", i, len(list), err, keys)
		}
	}
}
