package heartbeat

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the monitors' counters. The name label takes only the names
// of monitors in force, so senders cannot create series.
type metrics struct {
	// missed counts missed deadlines, once each: by the worker whose
	// compare-and-set recorded the miss.
	missed *prometheus.CounterVec
	// pings counts pings applied to a monitor, each once (its first delivery).
	pings *prometheus.CounterVec
	// rejected counts pings for no monitor: dead-lettered (NATS) or
	// answered 404 (HTTP), by reason.
	rejected *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "escalator_heartbeats_missed_total",
			Help: "Heartbeat deadlines missed (no ping for every): each raised a firing alert heartbeat/<name>.",
		}, []string{"name"}),
		pings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "escalator_heartbeats_pings_total",
			Help: "Heartbeat pings applied, over NATS or HTTP.",
		}, []string{"name"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "escalator_heartbeats_pings_rejected_total",
			Help: "Heartbeat pings for no monitor in force: dead-lettered over NATS, answered 404 over HTTP.",
		}, []string{"reason"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.missed, m.pings, m.rejected} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register heartbeat metrics: %w", err)
			}
		}
	}
	return m, nil
}
