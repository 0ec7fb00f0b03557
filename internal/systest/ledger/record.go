package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
)

// Record is the escalation record of alertID in the escalations bucket, in
// short: its id, revision, state, intent, calls and outbox, for a test that
// prints what became of an escalation with no final outcome (a timer lost,
// a step stuck under a lease, an outcome saved and never published). It
// finds the record through the a.<hash> index the engine keeps; the hash is
// the engine's: SHA-256 of the id and a zero byte, the first 12 bytes in hex.
func Record(js jetstream.JetStream, alertID string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, natsx.BucketEscalations)
	if err != nil {
		return err.Error()
	}
	h := sha256.Sum256(append([]byte(alertID), 0))
	idx, err := kv.Get(ctx, "a."+hex.EncodeToString(h[:12]))
	if err != nil {
		return "index: " + err.Error()
	}
	e, err := kv.Get(ctx, string(idx.Value()))
	if err != nil {
		return "record: " + err.Error()
	}
	var esc struct {
		ID     string          `json:"id"`
		State  json.RawMessage `json:"state"`
		Intent json.RawMessage `json:"intent"`
		Calls  json.RawMessage `json:"calls"`
		Outbox json.RawMessage `json:"outbox"`
	}
	if err := json.Unmarshal(e.Value(), &esc); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("id %s (revision %d, written %s) state %s intent %s calls %s outbox %s",
		esc.ID, e.Revision(), at(e.Created()), esc.State, esc.Intent, esc.Calls, esc.Outbox)
}
