// Package metrics holds the Prometheus metrics that more than one package
// updates. Each is registered on a Registerer the caller gives (never the
// global one), so tests and several workers in one process do not collide.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Alerts counts alert events by source, from arrival to their fate.
type Alerts struct {
	// Received counts every event that arrived (HTTP or NATS), valid or not.
	Received *prometheus.CounterVec
	// Accepted counts events handed on to the engine.
	Accepted *prometheus.CounterVec
	// Duplicate counts events recognised as retries within the duplicate window.
	Duplicate *prometheus.CounterVec
	// Rejected counts invalid events, by reason (dead-lettered or refused over HTTP).
	Rejected *prometheus.CounterVec
}

// NewAlerts creates the alert counters and registers them on reg.
func NewAlerts(reg prometheus.Registerer) *Alerts {
	m := &Alerts{
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "escalator_alerts_received_total", Help: "Alert events received, valid or not, by source.",
		}, []string{"source"}),
		Accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "escalator_alerts_accepted_total", Help: "Alert events accepted and handed to the engine, by source.",
		}, []string{"source"}),
		Duplicate: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "escalator_alerts_duplicate_total", Help: "Alert events dropped as retries within the duplicate window, by source.",
		}, []string{"source"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "escalator_alerts_rejected_total", Help: "Alert events rejected (dead-lettered or refused over HTTP), by source and reason.",
		}, []string{"source", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.Received, m.Accepted, m.Duplicate, m.Rejected)
	}
	return m
}
