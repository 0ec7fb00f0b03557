package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/policy"
)

// keyExists reports whether key has a value in the escalations bucket.
func keyExists(t *testing.T, kv jetstream.KeyValue, key string) bool {
	t.Helper()
	_, err := kv.Get(context.Background(), key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// escalationKey is the key the index gives for alert id.
func escalationKey(t *testing.T, kv jetstream.KeyValue, id string) string {
	t.Helper()
	e, err := kv.Get(context.Background(), alertKey(id))
	if err != nil {
		t.Fatalf("index of %s: %v", id, err)
	}
	return string(e.Value())
}

// TestSweepRemovesWhatEnded: a sweep removes ended escalations and stale
// index entries, keeps active ones and ended ones whose alert still fires,
// and the engine starts afresh on a removed key.
func TestSweepRemovesWhatEnded(t *testing.T) {
	r := newRigWith(t, strings.ReplaceAll(testPolicy, "wait: 1s", "wait: 1m")) // calling all test long
	w := r.startWorker(t, nil)
	ctx := context.Background()
	kv := w.eng.st.kv
	fire := func(id, cluster string) {
		t.Helper()
		r.publish("alerts.prometheus", `{"id":"`+id+`","status":"firing","labels":{"team":"db","cluster":"`+cluster+`"}}`)
	}

	// Before the cutoff: a1 resolved; a3 acknowledged; a4 resolved, and its
	// group's key is then taken by a5; a6 still calling; an orphan entry.
	fire("a1", "pg1")
	r.expect("started 0", "dispatched 0")
	r.publish("alerts.http", `{"id":"a1","status":"resolved"}`)
	r.expect("resolved 0")
	fire("a3", "pg3")
	r.expect("started 0", "dispatched 0")
	r.publish("alerts.http", `{"id":"a3","status":"acknowledged","by":"aiko"}`)
	r.expect("acknowledged 0")
	fire("a4", "pg4")
	r.expect("started 0", "dispatched 0")
	r.publish("alerts.http", `{"id":"a4","status":"resolved"}`)
	r.expect("resolved 0")
	fire("a6", "pg6")
	r.expect("started 0", "dispatched 0")
	if _, err := kv.Put(ctx, alertKey("orphan"), []byte("e.nothing")); err != nil {
		t.Fatal(err)
	}
	a1, a3, a4, a6 := escalationKey(t, kv, "a1"), escalationKey(t, kv, "a3"), escalationKey(t, kv, "a4"), escalationKey(t, kv, "a6")

	cutoff := time.Now()
	// After it: a3 fires again (its sender repeats it), a5 joins pg4's key.
	watch, err := kv.Watch(ctx, alertKey("a3"), jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Stop()
	fire("a3", "pg3")
	select {
	case <-watch.Updates():
	case <-time.After(waitFor):
		t.Fatal("the repeated a3 was never indexed")
	}
	fire("a5", "pg4")
	r.expect("started 0", "dispatched 0")
	if escalationKey(t, kv, "a5") != a4 {
		t.Fatal("a5 did not take a4's group key")
	}

	swept, err := w.eng.Sweep(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if swept != (Swept{Escalations: 1, Index: 3}) {
		t.Errorf("swept %+v, want 1 escalation (a1) and 3 index entries (a1, a4, orphan)", swept)
	}
	for key, want := range map[string]bool{
		a1: false, alertKey("a1"): false, // ended before the cutoff
		a3: true, alertKey("a3"): true, // acknowledged, but still firing
		a4: true, alertKey("a4"): false, alertKey("a5"): true, // the key is a5's now
		a6: true, alertKey("a6"): true, // still calling
		alertKey("orphan"): false,
	} {
		if got := keyExists(t, kv, key); got != want {
			t.Errorf("%s exists: %v, want %v", key, got, want)
		}
	}
	if again, err := w.eng.Sweep(ctx, cutoff); err != nil || again != (Swept{}) {
		t.Errorf("a second sweep: %+v, %v; want nothing", again, err)
	}

	// a1 fires again: a new escalation on the removed key, calls made.
	fire("a1", "pg1")
	r.expect("started 0", "dispatched 0")
	if !keyExists(t, kv, a1) {
		t.Fatal("no record for the new a1 escalation")
	}
}

// TestPurgeUpToKeepsNewer: a sweep's removal never takes a revision written
// after the one it read, and compare-and-set against a removed revision
// fails (the engine then reloads and creates).
func TestPurgeUpToKeepsNewer(t *testing.T) {
	r := newRig(t)
	w := r.startWorker(t, nil)
	ctx := context.Background()
	kv := w.eng.st.kv
	s, err := r.js.Stream(ctx, "KV_"+natsx.BucketEscalations)
	if err != nil {
		t.Fatal(err)
	}
	old, err := kv.Put(ctx, "e.k", []byte(`{"v":1}`))
	if err != nil {
		t.Fatal(err)
	}
	cur, err := kv.Put(ctx, "e.k", []byte(`{"v":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := purgeUpTo(ctx, s, "e.k", old); err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, "e.k"); err != nil || string(e.Value()) != `{"v":2}` {
		t.Fatalf("after removing revision %d: %v, %v; want the newer value", old, e, err)
	}
	if err := purgeUpTo(ctx, s, "e.k", cur); err != nil {
		t.Fatal(err)
	}
	if keyExists(t, kv, "e.k") {
		t.Fatal("the read revision was not removed")
	}
	if _, err := kv.Update(ctx, "e.k", []byte(`{"v":3}`), cur); err == nil {
		t.Fatal("compare-and-set against a removed revision succeeded")
	}
	if _, err := kv.Create(ctx, "e.k", []byte(`{"v":3}`)); err != nil {
		t.Fatalf("create after removal: %v", err)
	}
}

// TestRunSweeperOnItsClock: the sweeper runs every interval of the engine's
// clock and removes what ended more than the retention before it.
func TestRunSweeperOnItsClock(t *testing.T) {
	r := newRig(t)
	fake := clock.NewFake(time.Now().Add(60 * 24 * time.Hour))
	r.clock = fake
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng, err := New(ctx, Config{JS: r.js, Policies: func() *policy.Set { return r.set }, Dispatcher: r.dispatcher(t), Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	old := fake.Now().Add(-40 * 24 * time.Hour).UTC().Format(time.RFC3339)
	recent := fake.Now().Add(-20 * 24 * time.Hour).UTC().Format(time.RFC3339)
	for key, rec := range map[string]string{
		"e.old":    `{"id":"old-1","alert_id":"x","state":{"status":"resolved","ended_at":"` + old + `"}}`,
		"e.recent": `{"id":"recent-1","alert_id":"y","state":{"status":"exhausted","ended_at":"` + recent + `"}}`,
	} {
		if _, err := eng.st.kv.Put(ctx, key, []byte(rec)); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() { defer close(done); eng.RunSweeper(ctx, 30*24*time.Hour, time.Hour) }()
	fake.WaitForWaiters(1)
	if !keyExists(t, eng.st.kv, "e.old") {
		t.Fatal("swept before its interval")
	}
	fake.Advance(time.Hour)
	fake.WaitForWaiters(1) // the sweep is done: it waits for the next
	if keyExists(t, eng.st.kv, "e.old") || !keyExists(t, eng.st.kv, "e.recent") {
		t.Fatalf("after a sweep: old exists %v (want false), recent exists %v (want true)",
			keyExists(t, eng.st.kv, "e.old"), keyExists(t, eng.st.kv, "e.recent"))
	}
	cancel()
	<-done
}
