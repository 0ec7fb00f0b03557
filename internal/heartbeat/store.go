package heartbeat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
)

// record is one monitor's state: the entry key(name) of the bucket
// escalator_heartbeats. The deadline is not stored: it is Since plus the
// monitor's every as the files say now, so a reload that changes every
// moves it.
type record struct {
	Name string `json:"name"`
	// Since is what the deadline counts from: the last ping, or when the
	// monitor was first loaded, whichever is later.
	Since time.Time `json:"since"`
	// LastPing is when the last ping applied was stored (zero: never).
	LastPing time.Time `json:"last_ping,omitzero"`
	// PingSeq is that ping's sequence in HEARTBEATS: pings up to it are
	// applied (a redelivered one changes nothing).
	PingSeq uint64 `json:"ping_seq,omitempty"`
	// Missed is the deadline whose alert is firing (zero: not firing).
	Missed time.Time `json:"missed,omitzero"`
	// Outbox holds alert events decided with this state and not yet known
	// to be stored in ALERTS, in order. Whoever handles the monitor next
	// publishes them (each under its message id, so twice is stored once).
	Outbox []pending `json:"outbox,omitempty"`
}

// pending is an alert event to store, byte for byte, under its message id.
type pending struct {
	MsgID string          `json:"msg_id"`
	Event json.RawMessage `json:"event"`
}

// deadline is when the monitor misses without a ping.
func (rec *record) deadline(every time.Duration) time.Time { return rec.Since.Add(every) }

// firing reports whether the monitor's alert is firing.
func (rec *record) firing() bool { return !rec.Missed.IsZero() }

// errConflict means the entry changed between its read and the write.
var errConflict = errors.New("heartbeat state changed meanwhile")

// store reads monitors' states from the bucket stream's leader and writes
// them with compare-and-set. A KV Get is a direct get that any replica of an
// R3 bucket may answer before it has applied the last acknowledged write (the
// engine's escalations were lost that way in the cluster test, see
// docs/cluster.md): a deadline handler that read "no state" there would drop
// the deadline. The leader has applied every acknowledged write.
type store struct {
	js jetstream.JetStream
	// leader reads the bucket's latest values from its stream's leader.
	leader natsx.LeaderReader
}

func newStore(js jetstream.JetStream) store {
	return store{js: js, leader: natsx.NewLeaderReader(js, natsx.BucketHeartbeats)}
}

// opTimeout bounds one JetStream request when ctx has no deadline.
const opTimeout = 5 * time.Second

// load returns the state of key and its revision; nil, 0 when there is none.
func (s *store) load(ctx context.Context, k string) (*record, uint64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	data, rev, err := s.leader.Last(ctx, k)
	if err != nil {
		return nil, 0, fmt.Errorf("heartbeat: %w", err)
	}
	if data == nil {
		return nil, 0, nil
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, 0, fmt.Errorf("decode heartbeat %s: %w", k, err)
	}
	return &rec, rev, nil
}

// save writes rec under k if the entry is still at rev (0: must not exist
// yet), or returns errConflict. It publishes to the bucket's subject with
// the expected last sequence, as a KV update does, and takes both "wrong
// last sequence" codes (10071; 10164 from a replicated stream) as a
// conflict.
func (s *store) save(ctx context.Context, k string, rec *record, rev uint64) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: natsx.KVSubject(natsx.BucketHeartbeats, k), Data: data}
	_, err = s.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(rev))
	if natsx.Conflict(err) {
		return errConflict
	}
	if err != nil {
		return fmt.Errorf("save heartbeat %s: %w", k, err)
	}
	return nil
}

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, opTimeout)
}

// maxConflicts bounds update's compare-and-set retries.
const maxConflicts = 32

// decision looks at a monitor's current state (nil: none yet) and returns
// the state to save, or nil to save nothing. It may be called several
// times, each with a freshly loaded state, so it keeps nothing between calls
// beyond what it returns.
type decision func(cur *record) *record

// update loads the state of k, applies decide and saves what it returns
// with compare-and-set, again from a fresh load when another worker saved
// meanwhile. It returns the state now under k (nil when none) and whether
// this call wrote it.
func (r *Runtime) update(ctx context.Context, k string, decide decision) (*record, bool, error) {
	for range maxConflicts {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		cur, rev, err := r.st.load(ctx, k)
		if err != nil {
			return nil, false, err
		}
		next := decide(cur)
		if next == nil {
			return cur, false, nil
		}
		if err := r.st.save(ctx, k, next, rev); errors.Is(err, errConflict) {
			continue
		} else if err != nil {
			return nil, false, err
		}
		return next, true, nil
	}
	return nil, false, fmt.Errorf("update heartbeat %s: changed %d times meanwhile", k, maxConflicts)
}
