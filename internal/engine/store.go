package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
)

// store reads and writes escalations with compare-and-set.
//
// Reads go to the stream's leader. A KV Get is a "direct get", which any
// replica of an R3 bucket may answer, including one that has not yet
// applied the write just acknowledged: a handler that saved an intent and
// read it back could see the record without it, take the escalation for
// gone, and acknowledge the wake-up that should have placed the step (the
// cluster test lost escalations that way). The leader has applied every
// acknowledged write, so a decision never rests on a stale record.
//
// Records this worker saved or read last are kept in a small cache
// (recent), which update may decide on instead of reading again: a write
// based on it is a compare-and-set at the cached revision, so it fails if
// anyone wrote since; what update decides without writing is decided again
// on a fresh read (update.go).
type store struct {
	kv jetstream.KeyValue
	// leader reads the bucket's latest values from its stream's leader.
	leader natsx.LeaderReader
	recent *recent
}

func newStore(js jetstream.JetStream, kv jetstream.KeyValue) store {
	return store{kv: kv, leader: natsx.NewLeaderReader(js, natsx.BucketEscalations), recent: newRecent(recentMax)}
}

var errConflict = errors.New("escalation changed meanwhile")

// read returns the latest record of key and its revision, from the
// stream's leader; nil, 0 when there is none (or it was deleted).
func (s store) read(ctx context.Context, key string) ([]byte, uint64, error) {
	return s.leader.Last(ctx, key)
}

// load returns the escalation under key and its revision (nil, 0 when none).
func (s store) load(ctx context.Context, key string) (*Escalation, uint64, error) {
	data, rev, err := s.read(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("load escalation: %w", err)
	}
	if data == nil {
		s.recent.drop(key)
		return nil, 0, nil
	}
	esc, err := decodeRecord(key, data)
	if err != nil {
		s.recent.drop(key)
		return nil, 0, err
	}
	s.recent.keep(key, data, rev)
	return esc, rev, nil
}

// cached returns the record of key this worker last saved or read, and its
// revision; false when it has none. It may be stale.
func (s store) cached(key string) (*Escalation, uint64, bool) {
	data, rev, ok := s.recent.get(key)
	if !ok {
		return nil, 0, false
	}
	esc, err := decodeRecord(key, data)
	if err != nil {
		s.recent.drop(key)
		return nil, 0, false
	}
	return esc, rev, true
}

func decodeRecord(key string, data []byte) (*Escalation, error) {
	var esc Escalation
	if err := json.Unmarshal(data, &esc); err != nil {
		return nil, fmt.Errorf("decode escalation %s: %w", key, err)
	}
	return &esc, nil
}

// save writes esc if the entry is still at rev (0: must not exist yet, or
// was deleted) and returns the new revision, or errConflict. guessed says
// rev 0 is a guess: then a deleted entry is a conflict too, which spares
// the read Create makes after a failure to tell a deleted entry.
func (s store) save(ctx context.Context, esc *Escalation, rev uint64, guessed bool) (uint64, error) {
	data, err := json.Marshal(esc)
	if err != nil {
		return 0, err
	}
	var nrev uint64
	switch {
	case rev == 0 && guessed:
		nrev, err = s.kv.Update(ctx, esc.Key, data, 0)
	case rev == 0:
		nrev, err = s.kv.Create(ctx, esc.Key, data)
	default:
		nrev, err = s.kv.Update(ctx, esc.Key, data, rev)
	}
	if natsx.Conflict(err) {
		s.recent.drop(esc.Key)
		return 0, errConflict
	}
	if err != nil {
		s.recent.drop(esc.Key)
		return 0, fmt.Errorf("save escalation: %w", err)
	}
	if esc.over() {
		s.recent.drop(esc.Key) // rarely touched again
	} else {
		s.recent.keep(esc.Key, data, nrev)
	}
	return nrev, nil
}

// recentMax bounds the records kept by a worker's cache: the escalations
// it is working on now. About 2 KiB each.
const recentMax = 2048

// recent is a bounded cache of records (their JSON) by key. When full, an
// arbitrary entry makes room: the cache only spares reads.
type recent struct {
	mu  sync.Mutex
	max int
	m   map[string]recentRecord
}

type recentRecord struct {
	data []byte
	rev  uint64
}

func newRecent(max int) *recent { return &recent{max: max, m: make(map[string]recentRecord)} }

func (r *recent) get(key string) ([]byte, uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.m[key]
	return e.data, e.rev, ok
}

// keep remembers data at rev for key, unless a later revision is kept.
func (r *recent) keep(key string, data []byte, rev uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[key]; ok && e.rev > rev {
		return
	}
	if _, ok := r.m[key]; !ok && len(r.m) >= r.max {
		for k := range r.m {
			delete(r.m, k)
			break
		}
	}
	r.m[key] = recentRecord{data: data, rev: rev}
}

func (r *recent) drop(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, key)
}
