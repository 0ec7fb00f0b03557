package policycmd

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

func writeJSON(w io.Writer, tl *Timeline) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(tl); err != nil {
		return fmt.Errorf("write timeline: %w", err)
	}
	return nil
}

func writeText(w io.Writer, tl *Timeline, ackedAfter time.Duration) error {
	a := tl.Alert
	fmt.Fprintf(w, "Alert %s (%s", a.ID, a.Status)
	if a.Severity != "" {
		fmt.Fprintf(w, ", severity %s", a.Severity)
	}
	fmt.Fprintln(w, ")")
	if a.Summary != "" {
		fmt.Fprintf(w, "  %s\n", a.Summary)
	}
	if len(a.Labels) > 0 {
		var ls []string
		for _, k := range sortedKeys(a.Labels) {
			ls = append(ls, k+"="+a.Labels[k])
		}
		fmt.Fprintf(w, "  labels: %s\n", strings.Join(ls, " "))
	}
	fmt.Fprintf(w, "\nPolicy %s (%s, priority %d)\n", tl.Policy, tl.File, tl.Priority)
	fmt.Fprintf(w, "  matched because %s\n", strings.Join(tl.Because, "; "))
	for _, v := range tl.Passed {
		fmt.Fprintf(w, "  passed over %s: %s\n", v.Policy, strings.Join(v.Reasons, "; "))
	}
	if len(tl.AlsoMatching) > 0 {
		var cs []string
		for _, c := range tl.AlsoMatching {
			cs = append(cs, fmt.Sprintf("%s (priority %d)", c.Policy, c.Priority))
		}
		fmt.Fprintf(w, "  preferred on priority over %s, which would take it then too\n", strings.Join(cs, ", "))
	}
	if q := tl.Maintenance; q != nil {
		fmt.Fprintf(w, "\nMaintenance: the alert would be silenced by maintenance (%s) until %s (+%s); then it escalates if still firing\n",
			q.Window, q.Until.Format(time.RFC3339), q.UntilOffset)
	}
	fmt.Fprintf(w, "\nTimeline from %s (steps run %s):\n", tl.Start.Format(time.RFC3339), plural(tl.Repeat+1, "time"))
	const pad = "          "
	for _, e := range tl.Entries {
		head := fmt.Sprintf("  %-7s step %d", "+"+e.Offset, e.Step+1)
		if tl.Repeat > 0 {
			head += fmt.Sprintf(" (run %d of %d)", e.Loop+1, tl.Repeat+1)
		}
		if e.Skipped != "" {
			fmt.Fprintf(w, "%s skipped at once: %s\n", head, e.Skipped)
			continue
		}
		fmt.Fprintf(w, "%s: %s, waiting %s for an acknowledgement\n", head, strategy(e), e.Wait)
		if e.OnCall != nil {
			writeOnCallLines(w, pad, e)
		}
		var ps []string
		for _, p := range e.People {
			ps = append(ps, fmt.Sprintf("%s %s", p.Name, strings.Join(append([]string{p.Phone}, p.Alternates...), " / ")))
		}
		call := "call"
		if e.Strategy == provider.RoundRobin {
			call = "call one of"
		}
		fmt.Fprintf(w, "%s%s %s\n", pad, call, strings.Join(ps, ", "))
		for i, l := range e.Via {
			lead := "via"
			if i > 0 {
				lead = "   "
			}
			fmt.Fprintf(w, "%s%s %d. %s %s\n", pad, lead, i+1, l.Provider, l.Settings)
			for j := 0; j < len(l.Numbers); j++ {
				n := l.Numbers[j]
				line := number(n)
				for j+1 < len(l.Numbers) && l.Numbers[j+1].Alternate {
					j++
					line += ", then " + number(l.Numbers[j])
				}
				fmt.Fprintf(w, "%s         %s → %s\n", pad, n.Person, line)
			}
		}
	}
	if q := tl.End.Maintenance; q != nil {
		fmt.Fprintf(w, "  %-7s the next step falls in maintenance (%s): quiet until %s (+%s); then it starts again from step 1 if still firing\n",
			"+"+q.Offset, q.Window, q.Until.Format(time.RFC3339), q.UntilOffset)
	}
	switch tl.End.Status {
	case policy.Acknowledged:
		if re := tl.End.Repage; re != nil {
			fmt.Fprintf(w, "  %-7s acknowledged (--acked-after %s): the steps stop; re-paged from step 1 at +%s if still firing (ack_timeout %s)\n",
				"+"+tl.End.Offset, offset(ackedAfter), re.Offset, re.AckTimeout)
			if q := re.Maintenance; q != nil {
				fmt.Fprintf(w, "  %-7s the re-page falls in maintenance (%s): quiet until %s (+%s); then it starts from step 1 if still firing\n",
					"+"+q.Offset, q.Window, q.Until.Format(time.RFC3339), q.UntilOffset)
			}
			break
		}
		fmt.Fprintf(w, "  %-7s acknowledged (--acked-after %s): the escalation stops\n", "+"+tl.End.Offset, offset(ackedAfter))
	case policy.Exhausted:
		fmt.Fprintf(w, "  %-7s exhausted: every step has run %s and nobody acknowledged\n", "+"+tl.End.Offset, plural(tl.Repeat+1, "time"))
	}
	return nil
}

// writeOnCallLines says who is on call in the step's roster when it
// starts, from which layer, covering whom, and what each layer has then.
func writeOnCallLines(w io.Writer, pad string, e Entry) {
	oc := e.OnCall
	in := "the roster"
	if e.Roster != "" {
		in = "roster " + e.Roster
	}
	var why []string
	if len(oc.Rotations) > 1 || oc.Source != policy.SourceBase {
		// A roster of one rotation need not say where from.
		why = append(why, source(oc.Cover))
	}
	if c := oc.Covers; c != nil {
		of := "the base"
		if c.Source == policy.SourceLayer {
			of = "layer " + c.Layer
		}
		why = append(why, fmt.Sprintf("covering %s of %s", people(c.People), of))
	}
	line := fmt.Sprintf("on call in %s: %s", in, people(oc.People))
	if len(why) > 0 {
		line += " (" + strings.Join(why, ", ") + ")"
	}
	fmt.Fprintf(w, "%s%s, %s\n", pad, line, until(*oc))
	if len(oc.Rotations) < 2 {
		return
	}
	var ls []string
	for i := len(oc.Rotations) - 1; i >= 0; i-- {
		rn := oc.Rotations[i]
		if rn.Source == policy.SourceBase && len(rn.Members) == 0 {
			continue
		}
		ls = append(ls, fmt.Sprintf("%s: %s", rotationName(rn), people(rn.People)))
	}
	fmt.Fprintf(w, "%slayers now, highest first: %s\n", pad, strings.Join(ls, "; "))
}

func strategy(e Entry) string {
	switch {
	case e.Strategy == provider.RoundRobin:
		return fmt.Sprintf("round_robin (one of them per escalation, in turn; the position %s is kept in JetStream)", e.RoundRobin)
	case e.Strategy == provider.Broadcast && e.StopOnAnswer:
		return "broadcast (everyone at once, stop when one answers)"
	case e.Strategy == provider.Broadcast:
		return "broadcast (everyone at once)"
	case e.Strategy == provider.Rotation && e.PassOn:
		return "rotation (one after another; whoever answers may press 9 to pass it on)"
	case e.Strategy == provider.Rotation:
		return "rotation (one after another until someone answers)"
	}
	return "single"
}

func number(n SentNumber) string {
	switch {
	case n.Error != "":
		return "cannot be sent: " + n.Error
	case n.CountryID != 0:
		return fmt.Sprintf("%s (country id %d)", n.Number, n.CountryID)
	}
	return n.Number
}

// settings describes a provider's settings in one line.
func settings(v provider.Via) string {
	desc := ""
	if s, ok := v.Settings.(fmt.Stringer); ok {
		desc = s.String()
	}
	if desc == "" {
		return "(defaults)"
	}
	return "(" + desc + ")"
}
