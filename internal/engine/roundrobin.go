package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
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
	for try := range maxConflicts {
		if try > 0 {
			// Workers taking picks of one roster at once take turns: a
			// random pause, longer after each conflict, so that a fast one
			// does not win every race (the test saw one lose 32 in a row).
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(time.Duration(rand.Int64N(int64(min(try, 8)) * int64(time.Millisecond)))):
			}
		}
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

// roundRobin returns the pick of the escalation's recorded step when it is
// a round-robin one with no pick yet (nil otherwise): taken before the
// step is claimed, so that a pick that fails (NATS away) leaves nothing in
// doubt. Asking twice for one step gets the same pick.
func (e *Engine) roundRobin(ctx context.Context, key, id string) (*uint64, error) {
	cur, _, err := e.st.load(ctx, key)
	if err != nil {
		return nil, err
	}
	if cur == nil || cur.ID != id || cur.Intent == nil || cur.Intent.Pick != nil ||
		cur.Intent.Run.Strategy != provider.RoundRobin || len(cur.Intent.Run.People) == 0 {
		return nil, nil
	}
	run := cur.Intent.Run
	key2 := run.RoundRobin
	if key2 == "" { // defensive: a policy that named no position
		key2 = fmt.Sprintf("policy/%s/step/%d", cur.Policy.Name, run.Step)
	}
	// One person per escalation and step: a repeat or a new round calls
	// the same person again.
	n, err := e.pos.pick(ctx, key2, fmt.Sprintf("%s/step/%d", id, run.Step))
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// picked is a round-robin step as placed: the picked person, as single.
func picked(run policy.StepRun, pick *uint64) policy.StepRun {
	if len(run.People) == 0 {
		return run
	}
	var n uint64
	if pick != nil {
		n = *pick
	}
	run.People = []provider.Person{run.People[n%uint64(len(run.People))]}
	run.Strategy = provider.Single
	return run
}
