package engine

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/policy"
)

// CountActive counts the escalations still calling people (status active)
// by reading every record: O(escalations), for a periodic gauge, not a hot path.
func (e *Engine) CountActive(ctx context.Context) (int, error) {
	keys, err := e.st.kv.ListKeysFiltered(ctx, "e.>")
	if err != nil {
		return 0, err
	}
	n := 0
	for key := range keys.Keys() {
		esc, _, err := e.st.load(ctx, key)
		if err != nil {
			return 0, err
		}
		if esc != nil && esc.State.Status == policy.Active {
			n++
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
