package consumer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/natsx"
)

// dedup recognises retries of an event within the duplicate window, for
// events published without a Nats-Msg-Id (which the stream dedups itself).
//
// One KV entry per alert id remembers the last accepted event: its status,
// its time and its stream sequence. A new event is a duplicate when it has
// the same status and time as that one but another sequence. Comparing with
// the last event (rather than remembering every id+status pair) means that a
// flapping alert, firing → resolved → firing within the window, is not
// mistaken for a retry. The same sequence is a redelivery of the event
// itself (the worker died before acking), which is handled again.
type dedup struct {
	kv jetstream.KeyValue
}

func openDedup(ctx context.Context, js jetstream.JetStream) (*dedup, error) {
	kv, err := js.KeyValue(ctx, natsx.BucketDedup)
	if err != nil {
		return nil, fmt.Errorf("open dedup bucket: %w", err)
	}
	return &dedup{kv: kv}, nil
}

type lastEvent struct {
	Status alert.Status `json:"status"`
	At     time.Time    `json:"at"`
	Seq    uint64       `json:"seq"`
}

func dedupKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

// seen reports whether ev is a retry of the last event accepted for its id,
// and records ev as the last one otherwise.
func (d *dedup) seen(ctx context.Context, ev alert.Event, seq uint64) (bool, error) {
	key := dedupKey(ev.ID)
	cur := lastEvent{Status: ev.Status, At: ev.At.UTC(), Seq: seq}
	val, err := json.Marshal(cur)
	if err != nil {
		return false, err
	}
	// Most firing events are their alert's first in the window: writing
	// its entry where there is none (revision 0) is then the only round
	// trip. Otherwise (and for every other event) compare with the one
	// there. (Update at revision 0, not Create: Create reads the entry
	// after a failure, to see whether it was deleted; the loop reads it.)
	if ev.Status == alert.Firing {
		if _, err := d.kv.Update(ctx, key, val, 0); err == nil {
			return false, nil
		} else if !natsx.Conflict(err) {
			return false, fmt.Errorf("record event: %w", err)
		}
	}
	for range 5 {
		entry, err := d.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if _, err := d.kv.Create(ctx, key, val); err == nil {
				return false, nil
			} else if !natsx.Conflict(err) {
				return false, fmt.Errorf("record event: %w", err)
			}
			continue // another worker recorded one meanwhile: compare with it
		case err != nil:
			return false, fmt.Errorf("read last event: %w", err)
		}
		var last lastEvent
		if json.Unmarshal(entry.Value(), &last) == nil {
			if last.Seq == seq {
				return false, nil
			}
			// An acknowledgement is never taken for a retry: handling
			// one twice changes nothing, and a second one by the same
			// person may come after the first timed out (a policy's
			// ack_timeout) and paged again.
			if last.Status == cur.Status && last.At.Equal(cur.At) && cur.Status != alert.Acknowledged {
				return true, nil
			}
		}
		if _, err := d.kv.Update(ctx, key, val, entry.Revision()); err == nil {
			return false, nil
		} else if !natsx.Conflict(err) {
			return false, fmt.Errorf("record event: %w", err)
		}
	}
	return false, errors.New("record event: too many concurrent updates")
}
