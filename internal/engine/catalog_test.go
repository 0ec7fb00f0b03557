package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/policy"
)

// TestListPagesNewestFirst: listings filter by status and policy, page
// newest first with a cursor, and read only what changed since the last
// one.
func TestListPagesNewestFirst(t *testing.T) {
	r := newRigWith(t, slowPolicy)
	w := r.startWorker(t, nil)
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		r.publish("alerts.prometheus", fmt.Sprintf(`{"id":"a%d","status":"firing","labels":{"team":"db","cluster":"c%d"}}`, i, i))
		ids = append(ids, r.expect("started 0", "dispatched 0")[0].EscalationID)
	}
	if _, err := w.eng.Act(ctx, ids[1], Action{Kind: ActAck, By: "aiko"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.eng.Act(ctx, ids[3], Action{Kind: ActResolve, By: "aiko"}); err != nil {
		t.Fatal(err)
	}
	list := func(q Query) ([]string, string) {
		t.Helper()
		p, err := w.eng.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range p.Escalations {
			got = append(got, s.ID)
		}
		return got, p.NextCursor
	}
	want := func(got []string, idx ...int) {
		t.Helper()
		if len(got) != len(idx) {
			t.Fatalf("listed %v, want escalations %v of %v", got, idx, ids)
		}
		for i, k := range idx {
			if got[i] != ids[k] {
				t.Fatalf("listed %v, want escalations %v of %v (newest first)", got, idx, ids)
			}
		}
	}
	got, _ := list(Query{})
	want(got, 4, 2, 0)
	got, _ = list(Query{Status: ListAcknowledged})
	want(got, 1)
	got, _ = list(Query{Status: ListEnded})
	want(got, 3)
	got, cur := list(Query{Status: ListAll, Limit: 2})
	want(got, 4, 3)
	got, cur = list(Query{Status: ListAll, Limit: 2, Cursor: cur})
	want(got, 2, 1)
	got, cur = list(Query{Status: ListAll, Limit: 2, Cursor: cur})
	want(got, 0)
	if cur != "" {
		t.Fatalf("a cursor after the last page: %q", cur)
	}
	if got, _ := list(Query{Status: ListAll, Policy: "other"}); len(got) != 0 {
		t.Fatalf("policy filter: %v", got)
	}
	if _, err := w.eng.List(ctx, Query{Cursor: "not-a-cursor"}); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
	// A change after the catalog was built: the next listing reads it (the
	// stream's tail, message by message).
	if _, err := w.eng.Act(ctx, ids[0], Action{Kind: ActAck, By: "kenji"}); err != nil {
		t.Fatal(err)
	}
	got, _ = list(Query{Status: ListAcknowledged})
	want(got, 1, 0)
	got, _ = list(Query{})
	want(got, 4, 2)
	// The summary says who was called last.
	p, _ := w.eng.List(ctx, Query{Status: ListAcknowledged})
	if s := p.Escalations[0]; len(s.LastCalled) != 1 || s.LastCalled[0].Name != "aiko" || s.Status != policy.Acknowledged || s.By != "aiko" {
		t.Fatalf("summary %+v", s)
	}
}

func TestLookupByShortCodeAndAlertID(t *testing.T) {
	r := newRigWith(t, slowPolicy)
	w := r.startWorker(t, nil)
	ctx := context.Background()
	r.publish("alerts.prometheus", pgDown)
	started := r.expect("started 0", "dispatched 0")[0]
	for ref, want := range map[string]string{
		started.EscalationID: started.EscalationID,
		started.ShortCode:    started.EscalationID,
		"pg-down":            started.EscalationID,
	} {
		if got, err := w.eng.Lookup(ctx, ref); err != nil || got != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	for _, ref := range []string{"no-such-alert", "0000"} {
		if ref == started.ShortCode {
			continue
		}
		if _, err := w.eng.Lookup(ctx, ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Lookup(%q): %v, want ErrNotFound", ref, err)
		}
	}
}

// TestCatalogTailFindsARewrittenRecord: a record written at the sequence a
// refresh was told is the stream's last, and rewritten before the refresh
// reads it, is gone from that sequence (history 1); the refresh reads on to
// its new one instead of missing it.
func TestCatalogTailFindsARewrittenRecord(t *testing.T) {
	r := newRigWith(t, slowPolicy)
	w := r.startWorker(t, nil)
	ctx := context.Background()
	kv, err := r.js.KeyValue(ctx, natsx.BucketEscalations)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(status string) []byte {
		return []byte(`{"id":"tok-1","policy":{"name":"db"},"state":{"status":"` + status + `"},"created_at":"2026-11-29T03:00:00Z"}`)
	}
	first, err := kv.Put(ctx, "e.tok", rec("active"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "e.tok", rec("acknowledged")); err != nil {
		t.Fatal(err)
	}
	var c catalog
	seen := map[string]*catEntry{}
	upTo, read, err := c.readSeqs(ctx, w.eng, first, first, func(en entry) { seen[en.Key] = readEntry(en) })
	if err != nil || !read {
		t.Fatalf("readSeqs: %v, read %t", err, read)
	}
	if got := seen["e.tok"]; got == nil || got.Status != policy.Acknowledged || upTo <= first {
		t.Fatalf("read to %d (from %d): %+v, want the record as rewritten", upTo, first, got)
	}
}
