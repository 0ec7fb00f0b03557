package engine

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/escalator-oss/escalator/internal/natsx"
)

// placedAndIdle fires pg-down on a rig whose first step waits 10 minutes
// and returns the record's key once the step's result is recorded and its
// outbox published: nothing touches the escalation after that.
func placedAndIdle(t *testing.T, r *rig, w *worker) string {
	t.Helper()
	ctx := context.Background()
	entry, err := waitEntry(ctx, w.eng.st.kv, alertKey("pg-down"), func() {
		r.publish("alerts.prometheus", `{"id":"pg-down","status":"firing","labels":{"team":"db","cluster":"pg1"}}`)
	}, func([]byte) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	key := string(entry.Value())
	if _, err := waitEntry(ctx, w.eng.st.kv, key, nil, func(data []byte) bool {
		var esc Escalation
		return json.Unmarshal(data, &esc) == nil && esc.Intent == nil && len(esc.Calls) == 1 && len(esc.Outbox) == 0
	}); err != nil {
		t.Fatalf("step 1 never recorded: %v", err)
	}
	r.expect("started 0", "dispatched 0")
	return key
}

// watchRecords returns the next record a worker writes (or tries to: a
// compare-and-set the bucket refuses is in it too), in the order written,
// from now on; it fails the test after waitFor. A plain subscription to the
// bucket's subjects, not a KV watch: a watch that starts at "new" may start
// after the write it should see.
func watchRecords(t *testing.T, r *rig) func() *Escalation {
	t.Helper()
	sub, err := r.nc.SubscribeSync(natsx.KVSubject(natsx.BucketEscalations, "e.>"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return func() *Escalation {
		t.Helper()
		m, err := sub.NextMsg(waitFor)
		if err != nil {
			t.Fatalf("no record written: %v", err)
		}
		var esc Escalation
		if err := json.Unmarshal(m.Data, &esc); err != nil {
			t.Fatal(err)
		}
		return &esc
	}
}

// TestUpdateDecidesOnTheLatestRecord: update decides first on the record
// the worker saved last, without reading it; when another worker changed
// it meanwhile, what it saves on that guess is refused (compare-and-set),
// and a decision to save nothing is not trusted: both are decided again on
// the latest record.
func TestUpdateDecidesOnTheLatestRecord(t *testing.T) {
	r := newRigWith(t, strings.Replace(testPolicy, "wait: 1s", "wait: 10m", 1))
	w := r.startWorker(t, nil)
	key := placedAndIdle(t, r, w)
	ctx := context.Background()

	// Another worker changes the record.
	other := func(summary string) {
		t.Helper()
		data, rev, err := w.eng.st.read(ctx, key) // not through this worker's cache
		if err != nil {
			t.Fatal(err)
		}
		esc, err := decodeRecord(key, data)
		if err != nil {
			t.Fatal(err)
		}
		esc.Summary = summary
		data, _ = json.Marshal(esc)
		if _, err := w.eng.st.kv.Update(ctx, key, data, rev); err != nil {
			t.Fatal(err)
		}
	}
	// The worker's cache holds the record it saved last.
	other("changed by another worker")

	var seen []string
	s, err := w.eng.update(ctx, key, func(cur *Escalation) (*Escalation, error) {
		seen = append(seen, cur.Summary)
		cur.Labels["seen"] = cur.Summary
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[1] != "changed by another worker" {
		t.Fatalf("decided on %q: want the cached record first, then the latest", seen)
	}
	if got := s.esc.Labels["seen"]; got != "changed by another worker" {
		t.Fatalf("saved a decision made on %q", got)
	}

	// The worker's cache now holds what it saved; another worker writes.
	other("changed again")
	seen = nil
	s, err = w.eng.update(ctx, key, func(cur *Escalation) (*Escalation, error) {
		seen = append(seen, cur.Summary)
		return nil, nil // nothing to change
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []string{"changed by another worker", "changed again"}) || s.esc.Summary != "changed again" {
		t.Fatalf("decided to change nothing on %q, returned %q: want it decided again on the latest", seen, s.esc.Summary)
	}
}

// TestFirstStepClaimedWithTheRecord: a new escalation's first step is
// claimed in the very record that starts it and placed by the worker that
// took the alert, without going through the wake-up stream; with
// PlaceAtOnce negative it is handed on through the stream, as any step.
func TestFirstStepClaimedWithTheRecord(t *testing.T) {
	for _, tt := range []struct {
		name        string
		placeAtOnce int
		claimed     bool
	}{
		{"at once", 0, true},
		{"handed on", -1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRigWith(t, strings.Replace(testPolicy, "wait: 1s", "wait: 10m", 1))
			r.placeAtOnce = tt.placeAtOnce
			w := r.startWorker(t, nil)
			ctx := context.Background()
			next := watchRecords(t, r)
			placedAndIdle(t, r, w)
			first := next()
			if first.Intent == nil || first.Intent.Started != tt.claimed || tt.claimed && first.Intent.Owner != w.eng.owner {
				t.Fatalf("the record as created: intent %+v, want started %v", first.Intent, tt.claimed)
			}
			c, err := r.js.Consumer(ctx, natsx.StreamTimers, natsx.ConsumerDue)
			if err != nil {
				t.Fatal(err)
			}
			info, err := c.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if through := info.Delivered.Consumer > 0; through == tt.claimed {
				t.Fatalf("wake-ups delivered: %d (claimed at once: %v)", info.Delivered.Consumer, tt.claimed)
			}
		})
	}
}

// TestNextStepClaimedWithItsIntent: when a wait ends, the next step's
// intent is saved already claimed by the worker that took the wake-up,
// which places it: no record of the escalation ever holds step 2's intent
// unclaimed.
func TestNextStepClaimedWithItsIntent(t *testing.T) {
	r := newRig(t)
	w := r.startWorker(t, nil)
	next := watchRecords(t, r)
	r.publish("alerts.prometheus", `{"id":"pg-down","status":"firing","labels":{"team":"db","cluster":"pg1"}}`)
	r.expect("started 0", "dispatched 0", "dispatched 1", "exhausted 1")
	for {
		if in := next().Intent; in != nil && in.Run.Step == 1 {
			if !in.Started || in.Owner != w.eng.owner {
				t.Fatalf("step 2's intent first saved as %+v: want claimed by the worker", in)
			}
			return
		}
	}
}
