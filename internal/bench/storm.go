package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
)

// Storm is the storm phase: Alerts alerts over Groups values of the
// bench-storm policy's group_by label, published at full speed on a fresh
// worker. Every alert must be absorbed: the first of each group starts its
// escalation, every other joins it (a "grouped" outcome), and the ALERTS
// consumer has nothing pending or unacknowledged.
type Storm struct {
	Alerts int `json:"alerts"`
	Groups int `json:"groups"`
	// PublishSeconds: from the first publish until JetStream acknowledged
	// the last.
	PublishSeconds float64 `json:"publish_seconds"`
	// AbsorbedSeconds: from the first publish until every alert is
	// accounted for (Started + Grouped + Duplicate = Alerts) and the ALERTS
	// consumer's num_pending and num_ack_pending are both 0.
	AbsorbedSeconds float64 `json:"absorbed_seconds"`
	AbsorbedPerSec  float64 `json:"absorbed_per_sec"`
	// RatioToConsumeAck: AbsorbedPerSec to the baseline's consume+ack.
	RatioToConsumeAck float64 `json:"ratio_to_consume_ack"`
	// Started: distinct "started" outcomes (want Groups). Grouped:
	// distinct "grouped" outcomes, each an alert that joined its group's
	// escalation (want Alerts - Groups). Duplicate: alerts the worker
	// dropped as retries (escalator_alerts_duplicate_total; want 0, the
	// alert ids are distinct). Unmatched: alerts no policy took (want 0).
	Started   int  `json:"started"`
	Grouped   int  `json:"grouped"`
	Duplicate int  `json:"duplicate"`
	Unmatched int  `json:"unmatched"`
	Rejected  int  `json:"rejected"`
	MetricsOK bool `json:"metrics_agree"`
	// Missing: alerts not accounted for when the phase ended (by the
	// outcomes, or still pending on the consumer); Extra: accounted for
	// more than once, or escalations started beyond Groups. Both want 0.
	Missing int `json:"missing"`
	Extra   int `json:"extra"`
	// PendingLeft: the ALERTS consumer's num_pending + num_ack_pending
	// at the end (0 unless the phase timed out).
	PendingLeft uint64 `json:"pending_left"`
	// CPUSecondsPer1000 is the worker process's CPU per 1,000 alerts.
	CPUSecondsPer1000 float64 `json:"cpu_seconds_per_1000"`
	PeakRSSMiB        float64 `json:"peak_rss_mib"`
}

// stormAlert is the i-th storm alert: group g<i mod groups>.
func stormAlert(i, groups int, at time.Time) (string, []byte) {
	return benchAlert("storm", i, at, fmt.Sprintf(`{"bench":"storm","group":"g%d"}`, i%groups))
}

// stormRun publishes the storm on a fresh worker (wk, nc, w) and waits until
// every alert is accounted for, or timeout.
func stormRun(ctx context.Context, cfg Config, wk *worker, w *watcher, js jetstream.JetStream) (*Storm, error) {
	n, groups := cfg.Storm, cfg.StormGroups
	out := &Storm{Alerts: n, Groups: groups}
	cons, err := js.Consumer(ctx, natsx.StreamAlerts, natsx.ConsumerAlerts)
	if err != nil {
		return nil, fmt.Errorf("storm: the ALERTS consumer: %w", err)
	}
	u0, err := readUsage(wk.pid())
	if err != nil {
		return nil, err
	}
	pub, err := newPublisher(js.Conn())
	if err != nil {
		return nil, err
	}
	at := time.Now()
	start := time.Now()
	for i := range n {
		id, data := stormAlert(i, groups, at)
		if err := pub.publish(alertSubject, id, data); err != nil {
			return nil, fmt.Errorf("storm: publish: %w", err)
		}
	}
	if err := pub.flush(ctx); err != nil {
		return nil, fmt.Errorf("storm: %w", err)
	}
	out.PublishSeconds = time.Since(start).Seconds()
	cfg.progress("storm: %d alerts published in %.1f s", n, out.PublishSeconds)

	// Wait for every alert's outcome (event-driven), then read the
	// consumer every few milliseconds until its acknowledgements are in.
	// An outcome is published before its alert is acked, so the consumer
	// being empty is the end. If the outcomes stop short (the duplicates
	// the worker drops have none), the consumer is read every 100 ms, and
	// once it is empty with no new outcome for 10 s the phase ends and
	// the counts say what is missing.
	all := func(w *watcher) bool { t := w.count("storm"); return t.started+t.grouped >= n }
	deadline := time.Now().Add(max(10*time.Minute, time.Duration(n/50)*time.Second))
	var end, changed time.Time
	last := -1
	for {
		done := w.wait(ctx, 100*time.Millisecond, all)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := w.counts("storm")
		if got := t.started + t.grouped + t.unmatched; got != last {
			last, changed = got, time.Now()
		}
		stalled := !done && time.Since(changed) >= 10*time.Second
		over := time.Now().After(deadline)
		if !done && !stalled && !over {
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("storm: consumer info: %w", err)
		}
		out.PendingLeft = info.NumPending + uint64(info.NumAckPending)
		if done && out.PendingLeft == 0 {
			end = time.Now()
			break
		}
		if stalled || over {
			// Outcomes missing (or alerts still pending): the counts
			// below say what; the time is to the last outcome seen.
			end = changed
			break
		}
		if err := sleepCtx(ctx, 5*time.Millisecond); err != nil {
			return nil, err
		}
	}
	u1, err := readUsage(wk.pid())
	if err != nil {
		return nil, err
	}
	m, err := scrape(ctx, wk.httpAddr)
	if err != nil {
		return nil, err
	}
	t := w.counts("storm")
	out.Started, out.Grouped, out.Unmatched = t.started, t.grouped, t.unmatched
	out.Duplicate, out.Rejected = int(m[metricDuplicate]), int(m[metricRejected])
	// The worker's own counts must tell the same: it is fresh, and only the
	// storm was sent to it.
	out.MetricsOK = int(m[metricStarted]) == out.Started && int(m[metricGrouped]) == out.Grouped &&
		int(m[metricAccepted]) == n-out.Duplicate-out.Rejected
	accounted := out.Started + out.Grouped + out.Duplicate + out.Unmatched + out.Rejected
	out.Missing = max(n-accounted, 0)
	if out.PendingLeft > 0 {
		out.Missing = max(out.Missing, int(out.PendingLeft))
	}
	out.Extra = max(accounted-n, 0) + max(out.Started-groups, 0)
	out.AbsorbedSeconds = end.Sub(start).Seconds()
	out.AbsorbedPerSec = float64(n) / out.AbsorbedSeconds
	out.CPUSecondsPer1000 = (u1.CPU - u0.CPU).Seconds() / float64(max(n, 1)) * 1000
	out.PeakRSSMiB = mib(u1.PeakRSS)
	return out, nil
}

// ok reports whether the storm was absorbed exactly: Groups escalations,
// every other alert grouped, nothing missing, duplicated or left pending.
func (s *Storm) ok() bool {
	return s.Missing == 0 && s.Extra == 0 && s.Started == s.Groups && s.Grouped == s.Alerts-s.Groups &&
		s.Duplicate == 0 && s.Unmatched == 0 && s.Rejected == 0 && s.PendingLeft == 0
}
