package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/provider"
)

// Describe says in one line what an outcome event means, without its
// time, escalation or event name: "step 1 via iotcall db-oncall: called
// kenji +819011112222", `by aiko via api; "looking"`.
func (p Printer) Describe(o outcome.Outcome) string {
	step := stepName(o.Step, o.Loop)
	var parts []string
	add := func(format string, args ...any) { parts = append(parts, fmt.Sprintf(format, args...)) }
	switch o.Event {
	case outcome.Started:
		add("policy %s", o.Policy)
	case outcome.Grouped:
		add("another alert joined (%d alerts now)", o.Alerts)
	case outcome.Dispatched:
		add("%s via %s%s: called %s", step, o.Provider, refs(o), persons(o.People))
		if o.Pending {
			add("pending: a person at %s must still act", o.Provider)
		}
		for _, n := range o.NotCalled {
			add("not %s: %s", n.Person.Name, n.Reason)
		}
	case outcome.DispatchFailed:
		add("%s via %s failed after %d attempts for %s: %s", step, o.Provider, o.Attempt, persons(o.People), o.Error)
	case outcome.Fallback:
		add("%s: %s could not call %s, %s takes over: %s", step, o.Provider, persons(o.People), o.Next, o.Error)
	case outcome.Refused:
		add("%s via %s refused for %s: %s", step, o.Provider, persons(o.People), firstOf(o.Error, o.Reason))
	case outcome.Skipped:
		add("%s skipped: %s", step, o.Reason)
	case outcome.Answered:
		add("%s: %s answered (%s%s)", step, orSomebody(o.By), o.Provider, refs(o))
	case outcome.Silenced:
		why := o.Reason
		if o.Silence != "" {
			why = "silence " + o.Silence
		}
		add("quiet until %s: %s", p.untilText(o.Until), why)
	case outcome.Acknowledged, outcome.Resolved, outcome.Escalated:
		add("by %s via %s", orSomebody(o.By), firstOf(o.Via, "?"))
		if o.Event == outcome.Escalated {
			add("the next step runs now")
		}
		if o.Comment != "" {
			add("%q", o.Comment)
		}
	case outcome.Unacknowledged:
		add("acknowledged too long with the alert still firing: paging again from step 1")
	case outcome.Exhausted:
		add("every step ran and nobody acknowledged")
	case outcome.Unmatched:
		add("no policy matches: %s", firstOf(o.Reason, "nobody is called"))
	default:
		if o.Error != "" {
			add("%s", o.Error)
		}
	}
	if o.InDoubt {
		add("placed again after a worker stopped (in doubt)")
	}
	if o.Summary != "" && (o.Event == outcome.Started || o.Event == outcome.Grouped || o.Event == outcome.Unmatched) {
		add("%s", o.Summary)
	}
	return strings.Join(parts, "; ")
}

// stepName is "step 2", or "step 2 (round 3)" past the first repeat.
func stepName(step, loop int) string {
	if loop > 0 {
		return fmt.Sprintf("step %d (round %d)", step+1, loop+1)
	}
	return fmt.Sprintf("step %d", step+1)
}

func refs(o outcome.Outcome) string {
	rs := o.References
	if len(rs) == 0 && o.Reference != "" {
		rs = []string{o.Reference}
	}
	if len(rs) == 0 {
		return ""
	}
	return " " + strings.Join(rs, ", ")
}

// persons writes "kenji +819011112222, aiko +818012345678".
func persons(ps []provider.Person) string {
	if len(ps) == 0 {
		return "nobody"
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = strings.TrimSpace(p.Name + " " + p.Phone)
	}
	return strings.Join(out, ", ")
}

func names(ps []provider.Person) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return strings.Join(out, ", ")
}

func (p Printer) untilText(t time.Time) string {
	if t.IsZero() {
		return "further notice"
	}
	return t.In(p.loc()).Format("Mon 15:04 MST") + ", " + Relative(t, p.now())
}

func orSomebody(s string) string { return firstOf(s, "somebody") }

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// eventColor is an outcome event's colour: red while people are being
// paged, yellow for trouble on the way, green when a person took it,
// magenta when nobody did.
func eventColor(event string) string {
	switch event {
	case outcome.Started, outcome.Dispatched, outcome.Escalated, outcome.Unacknowledged:
		return red
	case outcome.DispatchFailed, outcome.Fallback, outcome.Refused, outcome.Skipped:
		return yellow
	case outcome.Acknowledged, outcome.Resolved, outcome.Answered:
		return green
	case outcome.Silenced:
		return cyan
	case outcome.Exhausted, outcome.Unmatched:
		return magenta
	}
	return ""
}

// statusColor is an escalation's status's colour in a listing.
func statusColor(status string) string {
	switch status {
	case "active":
		return red + ";" + bold
	case "silenced":
		return cyan
	case "acknowledged":
		return yellow
	case "resolved":
		return green
	case "exhausted":
		return magenta
	}
	return ""
}
