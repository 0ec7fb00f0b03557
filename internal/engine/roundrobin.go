package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
)

// positionMemory is how many recent picks a round-robin position
// remembers, so that asking again for the same escalation's step (a
// redelivery, an in-doubt re-run, another worker) gets the same answer.
const positionMemory = 256

// positions keeps the round-robin positions in the KV bucket
// escalator_positions: for each set of candidates (a roster, a policy's
// list), the number of the next pick, and the recent picks by whom they were
// for. A pick is one compare-and-set, read from the stream's leader, so
// several workers and restarts share one order.
type positions struct {
	kv     jetstream.KeyValue
	leader natsx.LeaderReader
}

func newPositions(js jetstream.JetStream, kv jetstream.KeyValue) positions {
	return positions{kv: kv, leader: natsx.NewLeaderReader(js, natsx.BucketPositions)}
}

// position is one round-robin position's record.
type position struct {
	// Key is the candidates' key, as the policy names it (the bucket's key
	// is its hash).
	Key string `json:"key"`
	// Next is the number of the next pick.
	Next uint64 `json:"next"`
	// Recent are the last picks, oldest first.
	Recent []pick `json:"recent,omitempty"`
}

type pick struct {
	For string `json:"for"`
	N   uint64 `json:"n"`
}

// pick returns the number of the pick for `forID` (an escalation's step) in
// the position key: the one it got before, or the next one. The caller
// takes it modulo the number of candidates.
func (p positions) pick(ctx context.Context, key, forID string) (uint64, error) {
	k := "p." + hash(key)
	for range maxConflicts {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		data, rev, err := p.leader.Last(ctx, k)
		if err != nil {
			return 0, fmt.Errorf("round-robin position %s: %w", key, err)
		}
		pos := position{Key: key}
		if data != nil {
			if err := json.Unmarshal(data, &pos); err != nil {
				return 0, fmt.Errorf("round-robin position %s: %w", key, err)
			}
		}
		for _, r := range pos.Recent {
			if r.For == forID {
				return r.N, nil
			}
		}
		n := pos.Next
		pos.Next++
		pos.Recent = append(pos.Recent, pick{For: forID, N: n})
		if len(pos.Recent) > positionMemory {
			pos.Recent = pos.Recent[len(pos.Recent)-positionMemory:]
		}
		out, _ := json.Marshal(pos)
		if rev == 0 {
			_, err = p.kv.Create(ctx, k, out)
		} else {
			_, err = p.kv.Update(ctx, k, out, rev)
		}
		if natsx.Conflict(err) {
			continue // another escalation took a pick meanwhile
		}
		if err != nil {
			return 0, fmt.Errorf("round-robin position %s: %w", key, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("round-robin position %s: %w", key, errTooManyConflicts)
}
