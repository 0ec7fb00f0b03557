package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/escalator-oss/escalator/internal/engine"
	"github.com/escalator-oss/escalator/internal/outcome"
)

// Escalations writes a listing as a table, newest first: the short code
// people say, the status, what comes next, and the full id last.
func (p Printer) Escalations(page *engine.Page, what string) {
	if len(page.Escalations) == 0 {
		fmt.Fprintf(p.Out, "No %s.\n", what)
		return
	}
	t := &table{p: p}
	t.header("CODE", "STATUS", "POLICY", "ALERT", "STEP", "STARTED", "NOW", "LAST CALLED", "ID")
	for _, s := range page.Escalations {
		alert := s.AlertID
		if n := max(s.Alerts, len(s.AlertIDs)); n > 1 {
			alert += fmt.Sprintf(" (+%d)", n-1)
		}
		t.add(plain(s.ShortCode), cell{string(s.Status), statusColor(string(s.Status))}, plain(s.Policy), plain(alert),
			plain(stepCell(s)), plain(Relative(s.Started, p.now())), plain(p.state(s)), plain(firstOf(names(s.LastCalled), "-")),
			cell{s.ID, dim})
	}
	t.flush("")
}

func stepCell(s engine.Summary) string {
	st := strconv.Itoa(s.Step + 1)
	if s.Loop > 0 {
		st += fmt.Sprintf(" (round %d)", s.Loop+1)
	}
	return st
}

// state says in a few words where an escalation stands and what comes
// next: "next step in 4m", "quiet until in 2h (silence …)", "by aiko 3m
// ago".
func (p Printer) state(s engine.Summary) string {
	now := p.now()
	switch string(s.Status) {
	case "active":
		if s.InFlight {
			return "placing calls"
		}
		return "next " + Relative(s.NextAt, now)
	case "silenced":
		if s.Quiet == nil {
			return "quiet"
		}
		why := "maintenance " + s.Quiet.Maintenance
		if s.Quiet.Silence != "" {
			why = "silence " + s.Quiet.Silence
		}
		return "quiet, ends " + Relative(s.Quiet.Until, now) + " (" + why + ")"
	case "acknowledged":
		st := "by " + orSomebody(s.By) + " " + ago(s.EndedAt, now)
		if !s.NextAt.IsZero() {
			st += ", re-pages " + Relative(s.NextAt, now)
		}
		return st
	case "resolved":
		if s.By != "" {
			return "by " + s.By + " " + ago(s.EndedAt, now)
		}
		return ago(s.EndedAt, now)
	case "exhausted":
		return "nobody acknowledged, " + ago(s.EndedAt, now)
	}
	return "-"
}

// ago is Relative for a moment past: "3m ago", "just now".
func ago(t, now time.Time) string {
	if r := Relative(t, now); r != "now" {
		return r
	}
	return "just now"
}

// Detail writes one escalation: where it stands, then its timeline, read
// like policy simulate's (offsets from its first outcome).
func (p Printer) Detail(d *engine.Detail) {
	code := engine.ShortCode(d.ID)
	fmt.Fprintf(p.Out, "Escalation %s (%s)\n", p.paint(code, bold), d.ID)
	t := &table{p: p}
	if s := d.Escalation; s != nil {
		t.add(plain("status"), p.painted(cell{string(s.Status), statusColor(string(s.Status))}, plain(", "+p.state(*s))))
		t.add(plain("policy"), plain(s.Policy))
		alerts := s.AlertIDs
		if len(alerts) == 0 {
			alerts = []string{s.AlertID}
		}
		t.add(plain("alerts"), plain(strings.Join(alerts, ", ")))
		t.add(plain("step"), plain(stepCell(*s)))
		t.add(plain("started"), plain(p.when(s.Started)))
		if len(s.LastCalled) > 0 {
			t.add(plain("last called"), plain(persons(s.LastCalled)))
		}
	} else {
		t.add(plain("status"), plain("ended; a newer escalation of its group has replaced its record"))
		if len(d.Timeline) > 0 {
			o := d.Timeline[0]
			t.add(plain("policy"), plain(o.Policy))
			t.add(plain("alert"), plain(o.AlertID))
		}
	}
	t.flush("  ")
	if len(d.Timeline) == 0 {
		fmt.Fprintln(p.Out, "\nNo outcome recorded yet.")
		return
	}
	start := d.Timeline[0].At
	fmt.Fprintf(p.Out, "\nTimeline from %s:\n", p.when(start))
	t = &table{p: p}
	for _, o := range d.Timeline {
		t.add(plain("+"+offset(o.At.Sub(start))), cell{o.Event, eventColor(o.Event)}, plain(p.Describe(o)))
	}
	t.flush("  ")
}

// Acted writes the answer to ack, resolve or escalate (kind) done by by:
// what happened and where the escalation stands now.
func (p Printer) Acted(kind, by string, s *engine.Summary) {
	var what string
	switch kind {
	case Ack:
		what = "Acknowledged"
	case Resolve:
		what = "Resolved"
	case Escalate:
		what = "Escalated"
	}
	fmt.Fprintf(p.Out, "%s %s (%s, policy %s) by %s.\n", what, p.paint(s.ShortCode, bold), s.AlertID, s.Policy, orSomebody(by))
	switch {
	case kind == Ack:
		fmt.Fprintln(p.Out, "Its further steps stop.")
	case kind == Resolve:
		fmt.Fprintln(p.Out, "It is over; a new firing event of its alerts starts a new escalation.")
	case string(s.Status) == "exhausted":
		fmt.Fprintln(p.Out, "It had no step left: it is exhausted.")
	default:
		fmt.Fprintf(p.Out, "Step %s runs now.\n", stepCell(*s))
	}
	fmt.Fprintf(p.Out, "Now %s: %s. (%s)\n", p.paint(string(s.Status), statusColor(string(s.Status))), p.state(*s), s.ID)
}

// Event writes one outcome as a line of `escalator tail`: the time, the
// escalation's short code, its alert, the event and what it means.
func (p Printer) Event(o outcome.Outcome) {
	code := firstOf(o.ShortCode, "----")
	if o.EscalationID != "" && o.ShortCode == "" && o.Event != outcome.Unmatched {
		code = engine.ShortCode(o.EscalationID)
	}
	ev := fmt.Sprintf("%-14s", o.Event)
	fmt.Fprintf(p.Out, "%s  %s  %s  %s: %s\n", o.At.In(p.loc()).Format("15:04:05"), p.paint(code, bold),
		p.paint(ev, eventColor(o.Event)), o.AlertID, p.Describe(o))
}
