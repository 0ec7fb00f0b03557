package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
type store struct {
	kv jetstream.KeyValue
	// leader reads the bucket's latest values from its stream's leader.
	leader natsx.LeaderReader
}

func newStore(js jetstream.JetStream, kv jetstream.KeyValue) store {
	return store{kv: kv, leader: natsx.NewLeaderReader(js, natsx.BucketEscalations)}
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
		return nil, 0, nil
	}
	var esc Escalation
	if err := json.Unmarshal(data, &esc); err != nil {
		return nil, 0, fmt.Errorf("decode escalation %s: %w", key, err)
	}
	return &esc, rev, nil
}

// save writes esc if the entry is still at rev (0: must not exist yet) and
// returns the new revision, or errConflict.
func (s store) save(ctx context.Context, esc *Escalation, rev uint64) (uint64, error) {
	data, err := json.Marshal(esc)
	if err != nil {
		return 0, err
	}
	var nrev uint64
	if rev == 0 {
		nrev, err = s.kv.Create(ctx, esc.Key, data)
	} else {
		nrev, err = s.kv.Update(ctx, esc.Key, data, rev)
	}
	if natsx.Conflict(err) {
		return 0, errConflict
	}
	if err != nil {
		return 0, fmt.Errorf("save escalation: %w", err)
	}
	return nrev, nil
}
