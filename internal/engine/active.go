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

// scanLatest calls fn with the latest record of every escalation in the
// bucket (deleted ones with deleted set), reading the bucket's stream in
// batches of an ordered pull consumer: bounded memory, a round trip per
// batch, not per key.
//
// A consumer alone can miss a key: a record replaced after the consumer
// listed it and before delivering it is skipped, its new revision comes
// only later in the stream, and the server's pending count may already say
// "done" (nats.go's ListKeys has this race; engines rewrite records all the
// time). So the scan reads up to the newest record present when it began,
// then asks the server for the keys that exist now, and fetches any it did
// not get one by one (only those rewritten meanwhile). A key may come more
// than once, older first: the caller keeps the last. ctx bounds the scan.
func (e *Engine) scanLatest(ctx context.Context, fn func(key string, data []byte, deleted bool)) error {
	prefix := "$KV." + natsx.BucketEscalations + "."
	filter := prefix + "e.>"
	s, err := e.js.Stream(ctx, "KV_"+natsx.BucketEscalations)
	if err != nil {
		return err
	}
	last, err := s.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // no escalation records at all
	}
	if err != nil {
		return err
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return err
	}
	got := map[string]struct{}{}
	for upTo := uint64(0); upTo < last.Sequence; {
		// No wait: the server ends the batch at the end of the stream.
		batch, err := cons.FetchNoWait(scanBatch)
		if err != nil {
			return err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if md, err := m.Metadata(); err == nil {
				upTo = max(upTo, md.Sequence.Stream)
			}
			key := strings.TrimPrefix(m.Subject(), prefix)
			got[key] = struct{}{}
			fn(key, m.Data(), m.Headers().Get("KV-Operation") != "") // DEL or PURGE
		}
		if err := batch.Error(); err != nil {
			return err
		}
		if n == 0 {
			break // the end (or no answer): the check below finds the rest
		}
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return err
	}
	for subj := range info.State.Subjects {
		key := strings.TrimPrefix(subj, prefix)
		if _, ok := got[key]; ok {
			continue
		}
		entry, err := e.st.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			fn(key, nil, true)
		case err != nil:
			return err
		default:
			fn(key, entry.Value(), false)
		}
	}
	return nil
}

// CountActive counts the escalations still calling people (status active),
// reading every escalation's latest record once (scanLatest): O(escalations),
// for a periodic gauge, not a hot path.
func (e *Engine) CountActive(ctx context.Context) (int, error) {
	active := map[string]bool{}
	err := e.scanLatest(ctx, func(key string, data []byte, deleted bool) {
		// Only the status is needed: skip the rest (the policy snapshot).
		var rec struct {
			State struct {
				Status policy.Status `json:"status"`
			} `json:"state"`
		}
		if !deleted && json.Unmarshal(data, &rec) == nil && rec.State.Status == policy.Active {
			active[key] = true
		} else {
			delete(active, key)
		}
	})
	if err != nil {
		return 0, fmt.Errorf("count active escalations: %w", err)
	}
	return len(active), nil
}

// ReportActive sets the escalator_escalations_active gauge (registered on
// reg) from CountActive every interval until ctx ends. Every worker reports
// the same cluster-wide count: aggregate with max(), not sum().
func (e *Engine) ReportActive(ctx context.Context, reg prometheus.Registerer, interval time.Duration) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "escalator_escalations_active",
		Help: "Escalations still calling people, cluster-wide, as last counted (every worker reports the same count).",
	})
	if reg != nil {
		reg.MustRegister(g)
	}
	for {
		cctx, cancel := context.WithTimeout(ctx, interval)
		n, err := e.CountActive(cctx)
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
