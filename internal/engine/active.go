package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/policy"
)

// CountActive counts the escalations still calling people (status active)
// by reading the latest record of every escalation once, in batches of an
// ordered pull consumer on the bucket's stream (bounded memory, a round trip
// per batch, not per key): O(escalations), for a periodic gauge, not a hot
// path.
func (e *Engine) CountActive(ctx context.Context) (int, error) {
	cons, err := e.js.OrderedConsumer(ctx, "KV_"+natsx.BucketEscalations, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"$KV." + natsx.BucketEscalations + ".e.>"},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return 0, fmt.Errorf("count active escalations: %w", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("count active escalations: %w", err)
	}
	left := info.NumPending
	n := 0
	for left > 0 {
		batch, err := cons.Fetch(int(min(left, 500)), jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			return 0, fmt.Errorf("count active escalations: %w", err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			if md, err := m.Metadata(); err == nil {
				left = md.NumPending
			}
			if op := m.Headers().Get("KV-Operation"); op != "" {
				continue // a deleted or purged escalation
			}
			// Only the status is needed: skip the rest (the policy snapshot).
			var rec struct {
				State struct {
					Status policy.Status `json:"status"`
				} `json:"state"`
			}
			if json.Unmarshal(m.Data(), &rec) == nil && rec.State.Status == policy.Active {
				n++
			}
		}
		if err := batch.Error(); err != nil {
			return 0, fmt.Errorf("count active escalations: %w", err)
		}
		if got == 0 {
			return 0, errors.New("count active escalations: the bucket's stream sent nothing")
		}
	}
	return n, nil
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
