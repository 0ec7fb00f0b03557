package silence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/natsx"
)

// DefaultMax is the longest silence accepted unless configured otherwise.
const DefaultMax = 7 * 24 * time.Hour

// ErrNotFound is the error for a silence id that does not exist.
var ErrNotFound = errors.New("no such silence")

// Store is the silences of every worker: created and ended in the KV
// bucket, read from memory (a watch on the bucket keeps it current). Open it
// with Open, and Run it while the worker runs. Safe for concurrent use.
type Store struct {
	kv  jetstream.KeyValue
	clk clock.Clock
	max time.Duration
	log *zap.Logger

	mu    sync.RWMutex
	all   map[string]*Silence
	ready chan struct{}
	once  sync.Once
	// updated, when set (by tests), hears of every change the watch
	// brings.
	updated func(id string)
}

// Open opens the bucket (natsx.EnsureEngine creates it). max bounds a
// silence's length (0: DefaultMax); clk and log may be nil.
func Open(ctx context.Context, js jetstream.JetStream, max time.Duration, clk clock.Clock, log *zap.Logger) (*Store, error) {
	kv, err := js.KeyValue(ctx, natsx.BucketSilences)
	if err != nil {
		return nil, fmt.Errorf("open silences: %w", err)
	}
	if max <= 0 {
		max = DefaultMax
	}
	if clk == nil {
		clk = clock.Real{}
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Store{kv: kv, clk: clk, max: max, log: log.With(zap.String("component", "silences")),
		all: map[string]*Silence{}, ready: make(chan struct{})}, nil
}

// sweepEvery is how often Run deletes the silences ended more than
// natsx.SilencesKept ago.
const sweepEvery = time.Hour

// Run follows the bucket until ctx ends, keeping the silences in memory,
// and deletes those ended more than natsx.SilencesKept ago (every worker
// does; deleting one twice is harmless). Ready is closed once every
// silence stored when it started is read.
func (s *Store) Run(ctx context.Context) error {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch silences: %w", err)
	}
	defer func() { _ = w.Stop() }()
	sweep := s.clk.After(sweepEvery)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sweep:
			s.Sweep(ctx)
			sweep = s.clk.After(sweepEvery)
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch silences: the watch ended")
			}
			if e == nil { // the initial values are all read
				s.once.Do(func() { close(s.ready) })
				continue
			}
			s.apply(e)
		}
	}
}

// Load reads every silence stored into memory, and returns once it has.
// A worker loads them before it takes alerts: an alert that a silence made
// before a restart covers must not page. Run then follows the changes.
func (s *Store) Load(ctx context.Context) error {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("load silences: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("load silences: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("load silences: the watch ended")
			}
			if e == nil {
				return nil
			}
			s.apply(e)
		}
	}
}

// Ready is closed once the silences stored at Run's start are in memory.
func (s *Store) Ready() <-chan struct{} { return s.ready }

// Sweep deletes the silences ended more than natsx.SilencesKept ago, and
// returns how many it deleted.
func (s *Store) Sweep(ctx context.Context) int {
	cutoff := s.clk.Now().Add(-natsx.SilencesKept)
	type old struct {
		id  string
		rev uint64
	}
	var gone []old
	s.mu.RLock()
	for id, sl := range s.all {
		if sl.EndsAt.Before(cutoff) {
			gone = append(gone, old{id, sl.rev})
		}
	}
	s.mu.RUnlock()
	n := 0
	for _, g := range gone {
		// Only the revision read: one changed meanwhile is kept.
		if err := s.kv.Delete(ctx, g.id, jetstream.LastRevision(g.rev)); err != nil {
			if !natsx.Conflict(err) {
				s.log.Warn("delete an old silence", zap.String("silence", g.id), zap.Error(err))
			}
			continue
		}
		s.mu.Lock()
		delete(s.all, g.id)
		s.mu.Unlock()
		n++
	}
	return n
}

func (s *Store) apply(e jetstream.KeyValueEntry) {
	s.mu.Lock()
	defer func() {
		hook := s.updated
		s.mu.Unlock()
		if hook != nil {
			hook(e.Key())
		}
	}()
	if e.Operation() != jetstream.KeyValuePut {
		delete(s.all, e.Key())
		return
	}
	sl, err := decode(e.Value())
	if err != nil {
		s.log.Warn("unreadable silence left out", zap.String("key", e.Key()), zap.Error(err))
		return
	}
	sl.rev = e.Revision()
	if cur, ok := s.all[e.Key()]; ok && cur.rev > sl.rev {
		return // put already holds a later one
	}
	s.all[e.Key()] = &sl
}

// Create makes the silence r asks for, stored before it returns. A
// *FieldError says what is wrong with r.
func (s *Store) Create(ctx context.Context, r Request) (Silence, error) {
	sl, err := r.build(strings.ToLower(nuid.Next()), s.clk.Now(), s.max)
	if err != nil {
		return Silence{}, err
	}
	if err := s.put(ctx, &sl, 0); err != nil {
		return Silence{}, err
	}
	return sl, nil
}

// Expire ends silence id now (one pending is ended before it began). An
// expired one is left as it is.
func (s *Store) Expire(ctx context.Context, id string) (Silence, error) {
	for range 8 {
		e, err := s.kv.Get(ctx, id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return Silence{}, ErrNotFound
		}
		if err != nil {
			return Silence{}, fmt.Errorf("read silence: %w", err)
		}
		sl, err := decode(e.Value())
		if err != nil {
			return Silence{}, fmt.Errorf("read silence: %w", err)
		}
		now := s.clk.Now().UTC()
		if sl.Status(now) == Expired {
			return sl, nil
		}
		sl.EndsAt, sl.ExpiredAt = now, now
		if sl.StartsAt.After(now) {
			sl.StartsAt = now
		}
		err = s.put(ctx, &sl, e.Revision())
		if natsx.Conflict(err) {
			continue // changed meanwhile: read it again
		}
		return sl, err
	}
	return Silence{}, fmt.Errorf("expire silence %s: it keeps changing", id)
}

// put stores sl (rev 0: new) and puts it in memory at once, so that the
// worker that made it applies it without waiting for the watch.
func (s *Store) put(ctx context.Context, sl *Silence, rev uint64) error {
	data, err := json.Marshal(sl)
	if err != nil {
		return err
	}
	var nrev uint64
	if rev == 0 {
		nrev, err = s.kv.Create(ctx, sl.ID, data)
	} else {
		nrev, err = s.kv.Update(ctx, sl.ID, data, rev)
	}
	if err != nil {
		return fmt.Errorf("store silence: %w", err)
	}
	s.mu.Lock()
	cp := *sl
	cp.rev = nrev
	if cur, ok := s.all[sl.ID]; !ok || cur.rev < nrev {
		s.all[sl.ID] = &cp
	}
	s.mu.Unlock()
	return nil
}

// List returns every silence kept, newest first, with its status now.
func (s *Store) List() []View {
	now := s.clk.Now()
	s.mu.RLock()
	out := make([]View, 0, len(s.all))
	for _, sl := range s.all {
		out = append(out, sl.ViewAt(now))
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}

// Get returns silence id with its status now.
func (s *Store) Get(id string) (View, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sl, ok := s.all[id]
	if !ok {
		return View{}, false
	}
	return sl.ViewAt(s.clk.Now()), true
}

// Covering returns the active silence that covers ev at now and ends last,
// or false.
func (s *Store) Covering(ev alert.Event, now time.Time) (Silence, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best *Silence
	for _, sl := range s.all {
		if sl.Status(now) == Active && sl.Matches(ev) && (best == nil || sl.EndsAt.After(best.EndsAt)) {
			best = sl
		}
	}
	if best == nil {
		return Silence{}, false
	}
	return *best, true
}
