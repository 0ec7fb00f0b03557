package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/policy"
)

// scanBatch is how many records a scan asks for at once (small in tests, to
// end batches inside the scan's races).
var scanBatch = 500

// Scan consumers: the server removes one whose worker died mid-scan after
// scanIdle; removing it when the scan is done may take scanCleanup.
const (
	scanIdle    = time.Minute
	scanCleanup = 5 * time.Second
)

// entry is one key's latest record in the escalations bucket, as scanned.
type entry struct {
	Key     string
	Data    []byte
	Deleted bool   // a delete or purge marker
	Rev     uint64 // the record's stream sequence (its KV revision)
	At      time.Time
}

// scanLatest calls fn with the latest record of every key under the bucket
// prefix pre ("e." for escalations, "a." for the alert index), reading the
// bucket's stream in batches of one pull consumer: bounded memory, a round
// trip per batch, not per key.
//
// The consumer's pending count does not say when it is done: a record
// replaced after the consumer listed it and before delivering it is
// skipped, its new revision comes later in the stream, and the server may
// already count nothing pending (nats.go's ListKeys has this race, and the
// engine rewrites records all the time). So the scan reads on until a batch
// comes back empty and the newest record under the prefix is one it has
// passed. Every record present then was delivered: those listed when the
// consumer started and still there, and those written since, in stream
// order. A key may come more than once, older first: the caller keeps the
// last. ctx bounds the scan.
func (e *Engine) scanLatest(ctx context.Context, pre string, fn func(entry)) error {
	_, err := e.scan(ctx, pre, 0, fn)
	return err
}

// scan is scanLatest from stream sequence from on (0: every key's latest
// record; otherwise every record written at or after from, in order, for a
// reader that knows the bucket up to from-1). It returns the sequence it
// read up to: every record present under the prefix at the end is at or
// below it.
func (e *Engine) scan(ctx context.Context, pre string, from uint64, fn func(entry)) (uint64, error) {
	prefix := natsx.KVSubject(natsx.BucketEscalations, "")
	filter := prefix + pre + ">"
	s, err := e.js.Stream(ctx, natsx.KVStream(natsx.BucketEscalations))
	if err != nil {
		return 0, err
	}
	// One consumer for the whole scan: an ordered consumer would be
	// recreated for every batch, and each creation counts what is pending
	// across all keys (quadratic in the bucket's size).
	cfg := jetstream.ConsumerConfig{
		Description:       "escalator: scan of the escalations bucket",
		FilterSubject:     filter,
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		InactiveThreshold: scanIdle, // removed by the server if this worker dies mid-scan
	}
	var upTo uint64 // the highest stream sequence delivered
	if from > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq, upTo = jetstream.DeliverByStartSequencePolicy, from, from-1
	}
	cons, err := s.CreateConsumer(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), scanCleanup)
		defer cancel()
		_ = s.DeleteConsumer(dctx, cons.CachedInfo().Name)
	}()
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		// No wait: the server ends the batch at the end of the stream.
		batch, err := cons.FetchNoWait(scanBatch)
		if err != nil {
			return 0, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				continue // not from the stream: cannot happen
			}
			upTo = max(upTo, md.Sequence.Stream)
			fn(entry{Key: strings.TrimPrefix(m.Subject(), prefix), Data: m.Data(),
				Deleted: m.Headers().Get("KV-Operation") != "", // DEL or PURGE
				Rev:     md.Sequence.Stream, At: md.Timestamp})
		}
		if err := batch.Error(); err != nil {
			return 0, err
		}
		if n > 0 {
			continue
		}
		// Empty: the end of the stream, or a batch that got no answer in
		// time. Done only if nothing under the prefix is newer than what
		// was read.
		last, err := s.GetLastMsgForSubject(ctx, filter)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return upTo, nil // no such records at all
		}
		if err != nil {
			return 0, err
		}
		if last.Sequence <= upTo {
			return upTo, nil
		}
	}
}

// CountActive counts the escalations still calling people (status active),
// reading every escalation's latest record once (scanLatest): O(escalations).
func (e *Engine) CountActive(ctx context.Context) (int, error) {
	var c activeCount
	return c.count(ctx, e, time.Time{})
}

// fullCountEvery is how often the active count reads every record; in
// between it reads the records written since the last count.
const fullCountEvery = 10 * time.Minute

// activeCount is the active count kept between counts. A read of every
// record loads the whole bucket's stream from disk into the server's
// caches: at 100k escalations, some 150 MB every 30 s on every worker. So
// only the first count, and one every fullCountEvery, reads everything;
// the others read the records written since (the stream's tail, still
// cached). Every change to an escalation is a new record, so the tail has
// them all; the full read corrects anything removed under it (a purge of
// the stream by hand).
type activeCount struct {
	active map[string]bool // escalation keys whose latest record is active
	upTo   uint64          // the stream sequence active reflects
	full   time.Time       // when the last full read was (zero: none)
}

// count brings c up to date and returns the number of active escalations.
// A zero now forces a full read.
func (c *activeCount) count(ctx context.Context, e *Engine, now time.Time) (int, error) {
	from := c.upTo + 1
	if c.active == nil || now.IsZero() || now.Sub(c.full) >= fullCountEvery {
		c.active, from = map[string]bool{}, 0
	}
	upTo, err := e.scan(ctx, "e.", from, func(r entry) {
		// Only the status is needed: skip the rest (the policy snapshot).
		var rec struct {
			State struct {
				Status policy.Status `json:"status"`
			} `json:"state"`
		}
		if !r.Deleted && json.Unmarshal(r.Data, &rec) == nil && rec.State.Status == policy.Active {
			c.active[r.Key] = true
		} else {
			delete(c.active, r.Key)
		}
	})
	if err != nil {
		c.active = nil // start over with a full read
		return 0, fmt.Errorf("count active escalations: %w", err)
	}
	if from == 0 {
		c.full = now
	}
	c.upTo = upTo
	return len(c.active), nil
}

// ReportActive sets the escalator_escalations_active gauge (registered on
// reg) every interval until ctx ends (activeCount: the records changed
// since the last count, and every record every fullCountEvery). Every worker reports
// the same cluster-wide count: aggregate with max(), not sum().
func (e *Engine) ReportActive(ctx context.Context, reg prometheus.Registerer, interval time.Duration) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "escalator_escalations_active",
		Help: "Escalations still calling people, cluster-wide, as last counted (every worker reports the same count).",
	})
	if reg != nil {
		reg.MustRegister(g)
	}
	var c activeCount
	for {
		cctx, cancel := context.WithTimeout(ctx, interval)
		n, err := c.count(cctx, e, e.clk.Now())
		cancel()
		if err == nil {
			g.Set(float64(n))
		} else if ctx.Err() == nil {
			e.log.Warn("count active escalations", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-e.clk.After(interval):
		}
	}
}
