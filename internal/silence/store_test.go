package silence

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
)

var t0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

// newJS runs a JetStream server with the engine's buckets.
func newJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, js := natstest.Connect(t, natstest.RunServer(t, ""))
	if err := natsx.EnsureEngine(context.Background(), js, natsx.Topology{}); err != nil {
		t.Fatal(err)
	}
	return js
}

// running opens a store and runs it until the test ends, ready.
func running(t *testing.T, js jetstream.JetStream, clk clock.Clock) *Store {
	t.Helper()
	s, err := Open(context.Background(), js, 0, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("store not ready")
	}
	return s
}

func TestCreateRefusesMalformedNamingTheField(t *testing.T) {
	s := running(t, newJS(t), clock.NewFake(t0))
	db := map[string]string{"team": "db"}
	cases := []struct {
		name  string
		req   Request
		field string
	}{
		{"no matcher", Request{Duration: "1h", By: "ann"}, "matchers"},
		{"bad label name", Request{Matchers: map[string]string{"9team": "db"}, Duration: "1h", By: "ann"}, "matchers.9team"},
		{"empty value", Request{Matchers: map[string]string{"team": " "}, Duration: "1h", By: "ann"}, "matchers.team"},
		{"bad regex", Request{MatchersRegex: map[string]string{"service": "db-("}, Duration: "1h", By: "ann"}, "matchers_regex.service"},
		{"no by", Request{Matchers: db, Duration: "1h"}, "by"},
		{"bad starts_at", Request{Matchers: db, StartsAt: "tomorrow", Duration: "1h", By: "ann"}, "starts_at"},
		{"no end", Request{Matchers: db, By: "ann"}, "ends_at"},
		{"both ends", Request{Matchers: db, EndsAt: "2026-11-29T04:00:00Z", Duration: "1h", By: "ann"}, "ends_at"},
		{"bad ends_at", Request{Matchers: db, EndsAt: "04:00", By: "ann"}, "ends_at"},
		{"bad duration", Request{Matchers: db, Duration: "2 hours", By: "ann"}, "duration"},
		{"negative duration", Request{Matchers: db, Duration: "-1h", By: "ann"}, "duration"},
		{"end before start", Request{Matchers: db, StartsAt: "2026-11-29T05:00:00Z", EndsAt: "2026-11-29T04:00:00Z", By: "ann"}, "ends_at"},
		{"ended already", Request{Matchers: db, StartsAt: "2026-11-29T00:00:00Z", EndsAt: "2026-11-29T01:00:00Z", By: "ann"}, "ends_at"},
		{"longer than the max", Request{Matchers: db, Duration: "169h", By: "ann"}, "ends_at"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Create(context.Background(), c.req)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("Create: %v, want a problem with %s", err, c.field)
			}
		})
	}
	if n := len(s.List()); n != 0 {
		t.Fatalf("%d silences kept from refused requests", n)
	}
}

func TestCoveringFollowsMatchersAndTimes(t *testing.T) {
	clk := clock.NewFake(t0)
	s := running(t, newJS(t), clk)
	ctx := context.Background()
	now, err := s.Create(ctx, Request{Matchers: map[string]string{"team": "db", "severity": "critical"},
		MatchersRegex: map[string]string{"service": "db-.*"}, Duration: "2h", By: "ann", Comment: "migration"})
	if err != nil {
		t.Fatal(err)
	}
	later, err := s.Create(ctx, Request{Matchers: map[string]string{"team": "web"},
		StartsAt: t0.Add(time.Hour).Format(time.RFC3339), Duration: "1h", By: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get(now.ID); v.Status != Active {
		t.Fatalf("status %q, want active", v.Status)
	}
	if v, _ := s.Get(later.ID); v.Status != Pending {
		t.Fatalf("status %q, want pending", v.Status)
	}
	db := alert.Event{ID: "a", Severity: "CRITICAL", Labels: map[string]string{"team": "db", "service": "db-main"}}
	cases := []struct {
		name string
		ev   alert.Event
		at   time.Time
		want string
	}{
		{"matches", db, t0, now.ID},
		{"severity differs", alert.Event{Severity: "warning", Labels: db.Labels}, t0, ""},
		{"regex anchored", alert.Event{Severity: "critical", Labels: map[string]string{"team": "db", "service": "x-db-main"}}, t0, ""},
		{"label absent", alert.Event{Severity: "critical", Labels: map[string]string{"team": "db"}}, t0, ""},
		{"after its end", db, t0.Add(2 * time.Hour), ""},
		{"pending not yet", alert.Event{Labels: map[string]string{"team": "web"}}, t0.Add(59 * time.Minute), ""},
		{"pending begun", alert.Event{Labels: map[string]string{"team": "web"}}, t0.Add(time.Hour), later.ID},
	}
	for _, c := range cases {
		got, ok := s.Covering(c.ev, c.at)
		if (c.want != "") != ok || got.ID != c.want {
			t.Errorf("%s: covering %q (%v), want %q", c.name, got.ID, ok, c.want)
		}
	}
}

func TestExpireEndsAtOnceAndAnotherWorkerSeesIt(t *testing.T) {
	clk := clock.NewFake(t0)
	js := newJS(t)
	a := running(t, js, clk)
	ctx := context.Background()
	sl, err := a.Create(ctx, Request{Matchers: map[string]string{"team": "db"}, Duration: "2h", By: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	// A worker started later (or restarted) reads it before it is ready.
	b := running(t, js, clk)
	ev := alert.Event{Labels: map[string]string{"team": "db"}}
	if _, ok := b.Covering(ev, t0); !ok {
		t.Fatal("a second worker does not see the silence")
	}
	seen := make(chan string, 8)
	b.mu.Lock()
	b.updated = func(id string) { seen <- id }
	b.mu.Unlock()

	clk.Advance(10 * time.Minute)
	x, err := a.Expire(ctx, sl.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !x.EndsAt.Equal(t0.Add(10*time.Minute)) || x.ExpiredAt.IsZero() {
		t.Fatalf("expired %+v, want ended at %s", x, t0.Add(10*time.Minute))
	}
	if _, ok := a.Covering(ev, clk.Now()); ok {
		t.Fatal("the expiring worker still applies the silence")
	}
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the second worker never heard of the expiry")
	}
	if v, _ := b.Get(sl.ID); v.Status != Expired {
		t.Fatalf("second worker: status %q, want expired", v.Status)
	}
	again, err := a.Expire(ctx, sl.ID)
	if err != nil || !again.EndsAt.Equal(x.EndsAt) {
		t.Fatalf("expiring twice: %+v %v, want unchanged", again, err)
	}
	if _, err := a.Expire(ctx, "nosuch"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expire unknown: %v, want ErrNotFound", err)
	}
}

func TestSweepKeepsASilenceForTheRecordThenDeletesIt(t *testing.T) {
	clk := clock.NewFake(t0)
	js := newJS(t)
	ctx := context.Background()
	// Loaded, not running: Run sweeps too, every hour of the fake clock,
	// and would race this test's sweeps for the same silence.
	s, err := Open(ctx, js, 0, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	old, err := s.Create(ctx, Request{Matchers: map[string]string{"team": "db"}, Duration: "1h", By: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(natsx.SilencesKept)
	fresh, err := s.Create(ctx, Request{Matchers: map[string]string{"team": "db"}, Duration: "1h", By: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Sweep(ctx); n != 0 {
		t.Fatalf("swept %d at exactly the kept time, want 0", n)
	}
	clk.Advance(time.Hour + time.Second)
	if n := s.Sweep(ctx); n != 1 {
		t.Fatalf("swept %d, want 1", n)
	}
	if _, ok := s.Get(old.ID); ok {
		t.Fatal("the old silence is still listed")
	}
	if _, ok := s.Get(fresh.ID); !ok {
		t.Fatal("the fresh silence was swept")
	}
	kv, _ := js.KeyValue(ctx, natsx.BucketSilences)
	if _, err := kv.Get(ctx, old.ID); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("old silence in the bucket: %v", err)
	}
}
