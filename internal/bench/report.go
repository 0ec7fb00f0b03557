package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Targets are the figures escalator aims for on a 2-core machine, embedded
// mode, simulators without latency.
var Targets = struct {
	StartedPerSec, P99ms, ActiveRSSMiB, RecoverySeconds float64
	ActiveAt                                            int
}{StartedPerSec: 2000, P99ms: 50, ActiveRSSMiB: 512, RecoverySeconds: 10, ActiveAt: 100_000}

// WriteJSON writes r as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// WriteText writes r for people.
func WriteText(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format+"\n", a...) }
	p("escalator bench\t%s", r.Date.Format("2006-01-02 15:04 MST"))
	p("machine\t%s, %d CPUs, %s", r.Machine, r.CPUs, r.Go)
	p("worker\t--workers %d, simulator latency %s", r.Config.Workers, r.Config.SimLatency)
	p("")
	b := r.Baseline
	p("raw JetStream (baseline)\t%d messages of %d bytes", b.Messages, b.MessageBytes)
	p("  publish\t%.0f msg/s", b.PublishPerSec)
	p("  consume + ack\t%.0f msg/s", b.ConsumeAckPerSec)
	p("")
	t := r.Throughput
	p("max rate\t%d alerts", t.Alerts)
	p("  escalations started\t%.0f /s\t%.2f of publish, %.2f of consume+ack\ttarget ≥ %.0f /s: %s",
		t.StartedPerSec, t.RatioToPublish, t.RatioToConsumeAck, Targets.StartedPerSec, verdict(t.StartedPerSec >= Targets.StartedPerSec))
	p("  first steps placed\t%.0f /s", t.DispatchedPerSec)
	p("  worker CPU\t%.2f s per 1,000 escalations", t.CPUSecondsPer1000)
	p("  worker peak RSS\t%.0f MiB", t.PeakRSSMiB)
	if t.Missing > 0 {
		p("  NOT PLACED\t%d", t.Missing)
	}
	p("")
	l := r.Latency
	p("publish → first provider request\t%d alerts at %.0f /s", l.Alerts, l.Rate)
	p("  p50 / p90 / p99 / max\t%.1f / %.1f / %.1f / %.1f ms\ttarget p99 < %.0f ms: %s",
		l.P50ms, l.P90ms, l.P99ms, l.MaxMs, Targets.P99ms, verdict(l.Missing == 0 && l.P99ms < Targets.P99ms))
	if l.Missing > 0 {
		p("  NO REQUEST SEEN\t%d", l.Missing)
	}
	if len(r.Active) > 0 {
		p("")
		p("escalations waiting on a timer\tworker RSS (after %s idle)\tRSS while filling\tstore on disk", r.Config.Settle)
		for _, a := range r.Active {
			line := fmt.Sprintf("  %d\t%.0f MiB\t%.0f MiB\t%.0f MiB", a.Escalations, a.RSSMiB, a.FillingRSSMiB, a.StoreMiB)
			if a.Escalations == Targets.ActiveAt {
				line += fmt.Sprintf("\ttarget < %.0f MiB: %s", Targets.ActiveRSSMiB, verdict(a.RSSMiB < Targets.ActiveRSSMiB))
			}
			p("%s", line)
		}
	}
	if rc := r.Recovery; rc != nil {
		p("")
		p("recovery after kill -9\t%d escalations, %d timers due while down (waits set to %s)", rc.Escalations, rc.Due, r.Config.RecoveryWait)
		p("  restart to ready\t%.1f s", rc.ReadySeconds)
		p("  restart to every due timer fired\t%.1f s\ttarget < %.0f s: %s", rc.AllFiredSeconds, Targets.RecoverySeconds,
			verdict(rc.Lost == 0 && rc.AllFiredSeconds < Targets.RecoverySeconds))
		p("  escalations lost\t%d", rc.Lost)
	}
	for _, n := range r.Notes {
		p("note\t%s", n)
	}
	return tw.Flush()
}
