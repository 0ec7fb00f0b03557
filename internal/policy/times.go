package policy

import (
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
)

// ActiveAt reports whether p takes alerts at t: always, when it has no
// active_time; otherwise when one of its ActiveTime windows covers t.
func (p *Policy) ActiveAt(t time.Time) bool {
	return len(p.ActiveTime) == 0 // TODO(issue 12): the windows
}

// MaintenanceAt reports whether a maintenance window of p covers t, and if
// so when the quiet ends (the end of that window and of any window that
// joins or overlaps it) and which window it is (for outcomes and logs).
func (p *Policy) MaintenanceAt(t time.Time) (end time.Time, which string, ok bool) {
	return time.Time{}, "", false // TODO(issue 12): the windows
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
