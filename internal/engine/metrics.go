package engine

import "github.com/prometheus/client_golang/prometheus"

type engineMetrics struct {
	started, grouped, unmatched, exhausted, steps, inDoubt prometheus.Counter
	outcomes                                               *prometheus.CounterVec
	firstDispatch                                          prometheus.Histogram
	swept                                                  *prometheus.CounterVec
	replies                                                *prometheus.CounterVec
	silenced                                               *prometheus.CounterVec
	repages                                                prometheus.Counter
	lastSweep                                              prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *engineMetrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &engineMetrics{
		started:   c("escalator_escalations_started_total", "Escalations started."),
		grouped:   c("escalator_alerts_grouped_total", "Alerts that joined an active escalation of their group instead of starting one."),
		unmatched: c("escalator_alerts_unmatched_total", "Firing alerts that matched no policy (reported as unmatched outcomes)."),
		exhausted: c("escalator_escalations_exhausted_total", "Escalations that ran all steps and repeats without acknowledgement."),
		steps:     c("escalator_steps_run_total", "Escalation steps whose calls were placed (in-doubt re-runs included)."),
		inDoubt: c("escalator_steps_in_doubt_total",
			"Steps placed again because a worker stopped between calling a provider and recording the result."),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "escalator_outcomes_published_total", Help: "Outcome events published, by event."}, []string{"event"}),
		firstDispatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "escalator_alert_to_first_dispatch_seconds",
			Help:    "Time from an alert being stored to its escalation's first call being accepted by a provider.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		swept: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "escalator_swept_total",
			Help: "Entries removed from the escalations bucket past --escalation-retention, by kind: escalation (an ended escalation's record) or index (an alert-id index entry).",
		}, []string{"kind"}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "escalator_replies_total",
			Help: "Replies read back from people (text messages), by provider and result: acknowledged (counted per escalation), ignored_text (not an ack word), ignored_number (no active escalation called the sender before the reply), ignored_nothing_active (none with the short code named).",
		}, []string{"provider", "result"}),
		silenced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "escalator_alerts_silenced_total",
			Help: "Escalations kept quiet (no calls) by a silence or a maintenance window, by what: silence or maintenance. Counted when an alert fires, or an escalation reaches its next step, under one.",
		}, []string{"by"}),
		repages: c("escalator_escalations_repaged_total",
			"Acknowledged escalations started again from step 1 because their alerts still fired ack_timeout after the acknowledgement."),
		lastSweep: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "escalator_sweep_last_success_timestamp_seconds",
			Help: "When this worker last finished a sweep of ended escalations (0: none yet, or --escalation-retention 0).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.started, m.grouped, m.unmatched, m.exhausted, m.steps, m.inDoubt, m.outcomes, m.firstDispatch,
			m.swept, m.replies, m.silenced, m.repages, m.lastSweep)
	}
	return m
}
