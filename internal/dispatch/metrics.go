package dispatch

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Dispatcher's Prometheus collectors.
type metrics struct {
	calls     *prometheus.CounterVec // provider, result: accepted|partial|pending|failed
	attempts  *prometheus.CounterVec // provider, result: ok|retryable|permanent|refused
	fallbacks *prometheus.CounterVec // from, to
	refusals  *prometheus.CounterVec // provider, guard
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "escalator", Subsystem: "dispatch", Name: "calls_total",
			Help: "Provider calls after retries, by provider and result (accepted, partial, pending, failed).",
		}, []string{"provider", "result"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "escalator", Subsystem: "dispatch", Name: "attempts_total",
			Help: "Single attempts at a provider, by provider and result (ok, retryable, permanent, refused).",
		}, []string{"provider", "result"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "escalator", Subsystem: "dispatch", Name: "fallbacks_total",
			Help: "Moves from one provider of a step's chain to the next.",
		}, []string{"from", "to"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "escalator", Subsystem: "dispatch", Name: "refusals_total",
			Help: "Calls refused by a cost or abuse guard, by provider and guard.",
		}, []string{"provider", "guard"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.calls, m.attempts, m.fallbacks, m.refusals} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, errors.New("register dispatch metrics: already registered on this registerer")
			}
			return nil, err
		}
	}
	return m, nil
}
