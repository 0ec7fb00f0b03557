package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/policy"
)

// Swept counts what one Sweep removed.
type Swept struct {
	Escalations int // finished escalation records
	Index       int // alert-id index entries
}

// Sweep removes from the escalations bucket what can no longer matter:
//
//   - the record of an escalation that ended (acknowledged, resolved or
//     exhausted) before cutoff, when none of its alerts has fired since
//     cutoff either (a sender that keeps repeating an acknowledged alert
//     keeps its escalation, so the repeats do not page again);
//   - an alert-id index entry last written before cutoff whose escalation is
//     gone or no longer lists that alert (its key was reused by a later
//     escalation of the same group).
//
// Active escalations are never touched. Each removal is a purge of the
// key's messages up to the revision that was read, never past it: a record
// or index entry written meanwhile (the alert fired again, a new escalation
// started under the key) survives, and a compare-and-set against the purged
// revision fails and is retried by the engine as for any conflict. Index
// entries go before their record, so a sweep that stops half-way leaves
// nothing the next one cannot find. Several workers may sweep at once.
func (e *Engine) Sweep(ctx context.Context, cutoff time.Time) (Swept, error) {
	var out Swept
	s, err := e.js.Stream(ctx, natsx.KVStream(natsx.BucketEscalations))
	if err != nil {
		return out, fmt.Errorf("sweep: %w", err)
	}
	// The alert index: index key -> its entry; escalation key -> the time
	// its alerts last fired.
	type indexEntry struct {
		target string
		rev    uint64
		at     time.Time
	}
	index := map[string]indexEntry{}
	if err := e.scanLatest(ctx, "a.", func(r entry) {
		if r.Deleted {
			delete(index, r.Key)
			return
		}
		index[r.Key] = indexEntry{target: string(r.Data), rev: r.Rev, at: r.At}
	}); err != nil {
		return out, fmt.Errorf("sweep: read the alert index: %w", err)
	}
	lastFired := map[string]time.Time{}
	for _, ie := range index {
		if ie.at.After(lastFired[ie.target]) {
			lastFired[ie.target] = ie.at
		}
	}

	// The escalations: which to remove, and which index keys stay wanted.
	gone := map[string]uint64{} // escalation key -> the revision to remove
	wanted := map[string]bool{} // index keys a kept escalation lists
	if err := e.scanLatest(ctx, "e.", func(r entry) {
		delete(gone, r.Key)
		if r.Deleted {
			return
		}
		var esc struct {
			AlertID string       `json:"alert_id"`
			Alerts  []string     `json:"alerts"`
			State   policy.State `json:"state"`
			Quiet   *Quiet       `json:"quiet"`
		}
		if err := json.Unmarshal(r.Data, &esc); err != nil {
			return // not ours to judge: kept
		}
		// An acknowledgement whose ack_timeout is still to come, or a
		// quiet, is not over.
		over := esc.State.Finished() && esc.State.NextAt.IsZero() && esc.Quiet == nil
		if over && esc.State.EndedAt.Before(cutoff) && lastFired[r.Key].Before(cutoff) {
			gone[r.Key] = r.Rev
			return
		}
		wanted[alertKey(esc.AlertID)] = true
		for _, id := range esc.Alerts {
			wanted[alertKey(id)] = true
		}
	}); err != nil {
		return out, fmt.Errorf("sweep: read the escalations: %w", err)
	}

	for key, ie := range index {
		if wanted[key] || !ie.at.Before(cutoff) {
			continue
		}
		if err := purgeUpTo(ctx, s, key, ie.rev); err != nil {
			return out, fmt.Errorf("sweep: remove index entry %s: %w", key, err)
		}
		out.Index++
		e.m.swept.WithLabelValues("index").Inc()
	}
	for key, rev := range gone {
		if err := purgeUpTo(ctx, s, key, rev); err != nil {
			return out, fmt.Errorf("sweep: remove escalation %s: %w", key, err)
		}
		out.Escalations++
		e.m.swept.WithLabelValues("escalation").Inc()
	}
	return out, nil
}

// purgeUpTo removes key's messages up to and including revision rev from
// the bucket's stream s, leaving any later revision (and no delete marker:
// nothing watches this bucket).
func purgeUpTo(ctx context.Context, s jetstream.Stream, key string, rev uint64) error {
	return s.Purge(ctx, jetstream.WithPurgeSubject(natsx.KVSubject(natsx.BucketEscalations, key)), jetstream.WithPurgeSequence(rev+1))
}

// RunSweeper sweeps every interval, removing what ended more than retention
// ago (Sweep), until ctx ends. The first sweep is one interval after start.
func (e *Engine) RunSweeper(ctx context.Context, retention, interval time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.clk.After(interval):
		}
		cctx, cancel := context.WithTimeout(ctx, interval)
		n, err := e.Sweep(cctx, e.clk.Now().Add(-retention))
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			e.log.Warn("sweep of ended escalations failed; the next one tries again", zap.Error(err))
		case err == nil:
			e.m.lastSweep.SetToCurrentTime()
			e.log.Info("swept ended escalations", zap.Int("escalations", n.Escalations), zap.Int("index_entries", n.Index),
				zap.Duration("retention", retention))
		}
	}
}
