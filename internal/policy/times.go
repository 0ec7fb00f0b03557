package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
)

// ActiveAt reports whether p takes alerts at t: always, when it has no
// active_time; otherwise when one of its ActiveTime windows covers t.
func (p *Policy) ActiveAt(t time.Time) bool {
	if len(p.ActiveTime) == 0 {
		return true
	}
	for i := range p.ActiveTime {
		if _, _, ok := p.ActiveTime[i].cover(t); ok {
			return true
		}
	}
	return false
}

// maintenanceChain bounds how far MaintenanceAt follows weekly windows that
// leave no gap: past the last one-off window, a chain of weekly windows
// that has gone on for this long would go on for ever.
const maintenanceChain = 8 * 24 * time.Hour

// MaintenanceAt reports whether a maintenance window of p covers t, and if
// so when the quiet ends (the end of that window and of any window that
// joins or overlaps it, one-off and weekly alike) and which window it is:
// "window 2, weekly sun 01:00–03:00 Asia/Tokyo" (numbered from 1, the first
// that covers t), for outcomes and logs. end is in t's location.
//
// Weekly windows that together leave no gap for a whole week never end: end
// is then 8 days past t (or past the last one-off window that joins them),
// and MaintenanceAt(end) says the quiet goes on.
func (p *Policy) MaintenanceAt(t time.Time) (end time.Time, which string, ok bool) {
	first := -1
	for i := range p.Maintenance {
		if _, e, hit := p.Maintenance[i].cover(t); hit {
			if first < 0 {
				first = i
			}
			if e.After(end) {
				end = e
			}
		}
	}
	if first < 0 {
		return time.Time{}, "", false
	}
	horizon := t
	for _, w := range p.Maintenance {
		if w.Weekly == nil && w.End.After(horizon) {
			horizon = w.End
		}
	}
	horizon = horizon.Add(maintenanceChain)
	// Each round moves end to the latest end of the windows that cover it
	// (a window starting exactly at end joins it), until none does.
	for end.Before(horizon) {
		next := end
		for i := range p.Maintenance {
			if _, e, hit := p.Maintenance[i].cover(end); hit && e.After(next) {
				next = e
			}
		}
		if !next.After(end) {
			break
		}
		end = next
	}
	return end.In(t.Location()), fmt.Sprintf("window %d, %s", first+1, p.Maintenance[first]), true
}

// MatchAt returns the policy that takes ev at t: the first, in match order,
// that is active at t and whose conditions all hold. ok is false when none
// does.
func (s *Set) MatchAt(ev alert.Event, t time.Time) (*Policy, bool) {
	for _, p := range s.Policies {
		if p.ActiveAt(t) && p.Match.Matches(ev) {
			return p, true
		}
	}
	return nil, false
}

// ExplainAt is Explain at t: a policy whose conditions hold but that is not
// active at t is passed over with why, and the reasons of a policy with
// active_time that takes ev say which window covers t.
func (s *Set) ExplainAt(ev alert.Event, t time.Time) []Verdict {
	var out []Verdict
	for _, p := range s.Policies {
		ok, why := p.Match.Explain(ev)
		if ok && len(p.ActiveTime) > 0 {
			active, reason := p.explainActive(t)
			if active {
				why = append(why, reason)
			} else {
				ok, why = false, []string{reason}
			}
		}
		out = append(out, Verdict{Policy: p.Name, Matched: ok, Reasons: why})
		if ok {
			break
		}
	}
	return out
}

// explainActive says whether p is active at t, naming the window that
// covers t, or every window with the local time of t in its zone.
func (p *Policy) explainActive(t time.Time) (bool, string) {
	var all []string
	for _, w := range p.ActiveTime {
		lt := t.In(w.location())
		local := strings.ToLower(lt.Format("Mon")) + lt.Format(" 15:04")
		if _, _, ok := w.cover(t); ok {
			return true, fmt.Sprintf("active_time %s covers it (%s there)", w, local)
		}
		all = append(all, fmt.Sprintf("%s (%s there)", w, local))
	}
	return false, "not active then: active_time is " + strings.Join(all, ", ")
}
