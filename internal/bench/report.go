package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Targets are issue 16's: on a 2-core machine, embedded mode, simulators
// without latency, as ratios to the same run's raw JetStream where a ratio.
var Targets = struct {
	// StartedRatio and DispatchedRatio: escalations started and first
	// steps placed per second, to raw publish.
	StartedRatio, DispatchedRatio float64
	// StormRatio: storm alerts absorbed per second, to raw consume+ack, at
	// StormAlerts alerts over StormGroups groups.
	StormRatio               float64
	StormAlerts, StormGroups int
	// P99ms at LatencyRate alerts a second.
	P99ms, LatencyRate float64
	// ActiveRSSMiB with ActiveAt escalations waiting (no GOMEMLIMIT).
	ActiveRSSMiB float64
	ActiveAt     int
	// EndedKiB: resident memory per ended escalation kept in retention.
	EndedKiB float64
	// RecoverySeconds: every due timer fired, ActiveAt timers due.
	RecoverySeconds float64
	// OpsStart: NATS messages the worker sends per escalation started.
	OpsStart float64
}{
	StartedRatio: 0.06, DispatchedRatio: 0.04,
	StormRatio: 0.25, StormAlerts: 100_000, StormGroups: 100,
	P99ms: 10, LatencyRate: 1000,
	ActiveRSSMiB: 384, ActiveAt: 100_000,
	EndedKiB:        2,
	RecoverySeconds: 15,
	OpsStart:        6,
}

// Verdict is one target's: Status is "met", "MISSED", or "not judged: why"
// (the run was not of the target's size, or did not run the phase).
type Verdict struct {
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Status   string `json:"status"`
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// Judge gives every target's verdict for r.
func Judge(r *Report) []Verdict {
	var v []Verdict
	add := func(target, measured, status string) {
		v = append(v, Verdict{Target: target, Measured: measured, Status: status})
	}
	t := r.Throughput
	add(fmt.Sprintf("escalations started ≥ %.2f × raw publish", Targets.StartedRatio),
		fmt.Sprintf("%.3f (%.0f /s)", t.RatioToPublish, t.StartedPerSec), verdict(t.Missing == 0 && t.RatioToPublish >= Targets.StartedRatio))
	add(fmt.Sprintf("first steps placed ≥ %.2f × raw publish", Targets.DispatchedRatio),
		fmt.Sprintf("%.3f (%.0f /s)", t.DispatchedRatioToPublish, t.DispatchedPerSec),
		verdict(t.Missing == 0 && t.DispatchedRatioToPublish >= Targets.DispatchedRatio))

	stormT := fmt.Sprintf("storm %d/%d: absorbed ≥ %.2f × consume+ack, %d started, all accounted",
		Targets.StormAlerts, Targets.StormGroups, Targets.StormRatio, Targets.StormGroups)
	switch s := r.Storm; {
	case s == nil:
		add(stormT, "", "not judged: no storm phase")
	default:
		m := fmt.Sprintf("%.3f (%.0f /s), %d started, %d grouped, %d missing, %d extra", s.RatioToConsumeAck, s.AbsorbedPerSec,
			s.Started, s.Grouped, s.Missing, s.Extra)
		switch {
		case !s.ok():
			add(stormT, m, "MISSED")
		case s.Alerts != Targets.StormAlerts || s.Groups != Targets.StormGroups:
			add(stormT, m, fmt.Sprintf("not judged: %d alerts over %d groups", s.Alerts, s.Groups))
		default:
			add(stormT, m, verdict(s.RatioToConsumeAck >= Targets.StormRatio))
		}
	}

	l := r.Latency
	latT := fmt.Sprintf("p99 publish → first request ≤ %.0f ms at %.0f/s", Targets.P99ms, Targets.LatencyRate)
	latM := fmt.Sprintf("%.1f ms at %.0f /s, %d without a request", l.P99ms, l.Rate, l.Missing)
	switch {
	case l.Missing > 0:
		add(latT, latM, "MISSED")
	case l.Rate != Targets.LatencyRate:
		add(latT, latM, fmt.Sprintf("not judged: run at %.0f /s", l.Rate))
	default:
		add(latT, latM, verdict(l.P99ms <= Targets.P99ms))
	}

	actT := fmt.Sprintf("%d waiting ≤ %.0f MiB RSS, no GOMEMLIMIT", Targets.ActiveAt, Targets.ActiveRSSMiB)
	judged := false
	for _, a := range r.Active {
		if a.Escalations != Targets.ActiveAt {
			continue
		}
		judged = true
		m := fmt.Sprintf("%.0f MiB", a.RSSMiB)
		switch {
		case a.Fired > 0:
			add(actT, m, fmt.Sprintf("not judged: %d timers fired while filling (raise --recovery-wait)", a.Fired))
		case r.Environment.GOMEMLIMIT != "":
			add(actT, m, "not judged: GOMEMLIMIT="+r.Environment.GOMEMLIMIT+" in the environment")
		case r.Environment.MemoryLimit != "auto" && r.Environment.MemoryLimit != "":
			add(actT, m, "not judged: --memory-limit "+r.Environment.MemoryLimit+", not the default")
		default:
			add(actT, m, verdict(a.RSSMiB <= Targets.ActiveRSSMiB))
		}
	}
	if !judged {
		add(actT, "", fmt.Sprintf("not judged: no --active count of %d", Targets.ActiveAt))
	}

	endT := fmt.Sprintf("ended in retention ≤ %.0f KiB RSS each", Targets.EndedKiB)
	switch e := r.Ended; {
	case e == nil:
		add(endT, "", "not judged: no ended phase")
	default:
		m := fmt.Sprintf("%.2f KiB (%d ended, %d missing)", e.KiBPerEscalation, e.Escalations, e.Missing)
		add(endT, m, verdict(e.Missing == 0 && e.KiBPerEscalation <= Targets.EndedKiB))
	}

	recT := fmt.Sprintf("kill -9 with %d due: all fired ≤ %.0f s, 0 lost", Targets.ActiveAt, Targets.RecoverySeconds)
	switch rc := r.Recovery; {
	case rc == nil:
		add(recT, "", "not judged: no recovery run")
	default:
		m := fmt.Sprintf("%.1f s, %d due, %d lost", rc.AllFiredSeconds, rc.Due, rc.Lost)
		switch {
		case rc.Lost > 0:
			add(recT, m, "MISSED")
		case rc.Escalations != Targets.ActiveAt:
			add(recT, m, fmt.Sprintf("not judged: %d escalations", rc.Escalations))
		default:
			add(recT, m, verdict(rc.AllFiredSeconds <= Targets.RecoverySeconds))
		}
	}

	opsT := fmt.Sprintf("NATS messages per escalation before its first call ≤ %.0f", Targets.OpsStart)
	switch o := r.Ops; {
	case o == nil:
		add(opsT, "", "not judged: no ops phase")
	case o.UntilFirstRequest.Missing > 0 || o.FirstCalls == 0:
		add(opsT, fmt.Sprintf("%.1f, %d of %d missing", o.UntilFirstRequest.OutPerEscalation, o.UntilFirstRequest.Missing, o.FirstCalls), "MISSED")
	default:
		add(opsT, fmt.Sprintf("%.1f (until quiet with the call held: %.1f; through the first step placed: %.1f)",
			o.UntilFirstRequest.OutPerEscalation, o.BeforeFirstCall.OutPerEscalation, o.Start.OutPerEscalation),
			verdict(o.UntilFirstRequest.OutPerEscalation <= Targets.OpsStart))
	}
	return v
}

// WriteJSON writes r as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes r for people.
func WriteText(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format+"\n", a...) }
	p("escalator bench\t%s", r.Date.Format("2006-01-02 15:04 MST"))
	p("machine\t%s, %d CPUs, %s", r.Machine, r.CPUs, r.Go)
	p("worker\t--workers %d, simulator latency %s", r.Config.Workers, r.Config.SimLatency)
	env := "no GOMEMLIMIT or GOGC in the environment"
	if r.Environment.GOMEMLIMIT != "" || r.Environment.GOGC != "" {
		env = fmt.Sprintf("inherited GOMEMLIMIT=%q GOGC=%q from the environment", r.Environment.GOMEMLIMIT, r.Environment.GOGC)
	}
	limit := "none"
	if e := r.Environment; e.MemoryLimitBytes > 0 {
		limit = fmt.Sprintf("%.0f MiB", mib(e.MemoryLimitBytes))
	}
	p("worker memory\t%s; --memory-limit %s: soft limit %s (%s)", env, r.Environment.MemoryLimit, limit, r.Environment.MemoryLimitFrom)
	p("")
	b := r.Baseline
	p("raw JetStream (baseline)\t%d messages of %d bytes", b.Messages, b.MessageBytes)
	p("  publish\t%.0f msg/s", b.PublishPerSec)
	p("  consume + ack\t%.0f msg/s", b.ConsumeAckPerSec)
	p("")
	t := r.Throughput
	p("max rate\t%d alerts", t.Alerts)
	p("  escalations started\t%.0f /s\t%.3f of publish, %.3f of consume+ack\ttarget ≥ %.2f of publish: %s",
		t.StartedPerSec, t.RatioToPublish, t.RatioToConsumeAck, Targets.StartedRatio, verdict(t.Missing == 0 && t.RatioToPublish >= Targets.StartedRatio))
	p("  first steps placed\t%.0f /s\t%.3f of publish\ttarget ≥ %.2f of publish: %s",
		t.DispatchedPerSec, t.DispatchedRatioToPublish, Targets.DispatchedRatio, verdict(t.Missing == 0 && t.DispatchedRatioToPublish >= Targets.DispatchedRatio))
	p("  worker CPU\t%.2f s per 1,000 escalations", t.CPUSecondsPer1000)
	p("  worker peak RSS\t%.0f MiB", t.PeakRSSMiB)
	if t.Missing > 0 {
		p("  NOT PLACED\t%d", t.Missing)
	}
	p("")
	l := r.Latency
	p("publish → first provider request\t%d alerts at %.0f /s", l.Alerts, l.Rate)
	p("  p50 / p90 / p99 / max\t%.1f / %.1f / %.1f / %.1f ms", l.P50ms, l.P90ms, l.P99ms, l.MaxMs)
	if l.Missing > 0 {
		p("  NO REQUEST SEEN\t%d", l.Missing)
	}
	if s := r.Storm; s != nil {
		p("")
		p("storm\t%d alerts over %d groups, at max rate, fresh worker", s.Alerts, s.Groups)
		p("  published in\t%.2f s", s.PublishSeconds)
		p("  all absorbed in\t%.2f s", s.AbsorbedSeconds)
		p("  alerts absorbed\t%.0f /s\t%.3f of consume+ack", s.AbsorbedPerSec, s.RatioToConsumeAck)
		p("  escalations started\t%d\twant %d", s.Started, s.Groups)
		p("  alerts grouped\t%d\twant %d", s.Grouped, s.Alerts-s.Groups)
		p("  duplicate / unmatched / rejected\t%d / %d / %d\twant 0", s.Duplicate, s.Unmatched, s.Rejected)
		p("  worker's own counts agree\t%v", s.MetricsOK)
		p("  worker CPU\t%.2f s per 1,000 alerts", s.CPUSecondsPer1000)
		if s.Missing > 0 || s.Extra > 0 || s.PendingLeft > 0 {
			p("  NOT ACCOUNTED FOR\t%d missing, %d extra, %d left on the ALERTS consumer", s.Missing, s.Extra, s.PendingLeft)
		}
	}
	if o := r.Ops; o != nil {
		p("")
		p("NATS messages the worker sends\tper escalation, %d escalations, idle rate subtracted (received beside)", o.Escalations)
		row := func(name string, ph OpsPhase) {
			line := fmt.Sprintf("  %s\t%.1f\t(received %.1f; %.1f s, idle %.1f/s)", name, ph.OutPerEscalation, ph.InPerEscalation, ph.Seconds, ph.IdleOutPerSec)
			if ph.Missing > 0 {
				line += fmt.Sprintf("\t%d DID NOT PASS", ph.Missing)
			}
			if ph.Overlapped {
				line += "\tOVERLAPPED THE NEXT PHASE: void"
			}
			p("%s", line)
		}
		row("start (alert → first step placed)", o.Start)
		row("step (timer → next step placed)", o.Step)
		row("acknowledgement (API → acknowledged)", o.Ack)
		row(fmt.Sprintf("until the first provider request (%d, one at a time)", o.FirstCalls), o.UntilFirstRequest)
		row("  the same, until quiet with the call held", o.BeforeFirstCall)
	}
	if e := r.Ended; e != nil {
		p("")
		p("ended escalations in retention\t%d started and resolved in %.0f s, then %s idle", e.Escalations, e.FillSeconds, r.Config.Settle)
		p("  worker RSS\t%.0f MiB, from %.0f MiB idle before\t%.2f KiB per ended escalation", e.RSSMiB, e.IdleRSSMiB, e.KiBPerEscalation)
		p("  store on disk\t%.0f MiB, from %.0f MiB", e.StoreMiB, e.IdleStoreMiB)
		if e.Missing > 0 {
			p("  NOT RESOLVED\t%d", e.Missing)
		}
	}
	if len(r.Active) > 0 {
		p("")
		p("escalations waiting on a timer\tworker RSS (after %s idle)\tRSS while filling\tstore on disk\ttime to fill", r.Config.Settle)
		for _, a := range r.Active {
			line := fmt.Sprintf("  %d\t%.0f MiB\t%.0f MiB\t%.0f MiB\t%.0f s", a.Escalations, a.RSSMiB, a.FillingRSSMiB, a.StoreMiB, a.FillSeconds)
			if a.Fired > 0 {
				line += fmt.Sprintf("\t%d TIMERS FIRED WHILE FILLING: raise --recovery-wait", a.Fired)
			}
			p("%s", line)
		}
	}
	if rc := r.Recovery; rc != nil {
		p("")
		p("recovery after kill -9\t%d escalations, %d timers due while down (waits set to %s)", rc.Escalations, rc.Due, r.Config.RecoveryWait)
		p("  restart to ready\t%.1f s", rc.ReadySeconds)
		p("  restart to every due timer fired\t%.1f s", rc.AllFiredSeconds)
		p("  escalations lost\t%d", rc.Lost)
	}
	verdicts := r.Verdicts
	if verdicts == nil {
		verdicts = Judge(r)
	}
	p("")
	p("targets (issue 16)")
	for _, v := range verdicts {
		p("  %s\t%s\t%s", v.Target, v.Measured, v.Status)
	}
	for _, n := range r.Notes {
		p("note\t%s", n)
	}
	return tw.Flush()
}
