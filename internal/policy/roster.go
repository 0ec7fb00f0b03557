package policy

import (
	"fmt"
	"time"
)

// Hand-off periods a roster may name; any Go duration is also accepted.
const (
	HandoffDaily  = "daily"
	HandoffWeekly = "weekly"
)

// Roster is an on-call rotation: people in order, handing off every period
// from Start, in TimeZone's wall-clock time.
type Roster struct {
	// People are the names of the rotation, in order.
	People []string `json:"people"`
	// Handoff is "daily", "weekly" or a Go duration ("12h", "336h"). Whole
	// days hand off at Start's local wall-clock time every time, so a 09:00
	// hand-off stays at 09:00 across DST changes; other durations are exact
	// elapsed time.
	Handoff string `json:"handoff"`
	// Start is when People[0]'s first shift begins.
	Start time.Time `json:"start"`
	// TimeZone is an IANA name ("Asia/Tokyo"); empty means UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// Overrides take precedence over the rotation; the first one covering a
	// moment wins.
	Overrides []Override `json:"overrides,omitempty"`
}

// Override is a person covering the on-call shift from Start until End. An
// empty Person means nobody is on call then (a holiday): steps that notify
// the on-call person or the roster are skipped.
type Override struct {
	Person string    `json:"person,omitempty"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

// parseHandoff returns the period as whole calendar days, or as an exact
// duration when it is not a whole number of days.
func parseHandoff(s string) (days int, d time.Duration, err error) {
	switch s {
	case HandoffDaily:
		return 1, 0, nil
	case HandoffWeekly:
		return 7, 0, nil
	}
	d, err = time.ParseDuration(s)
	if err != nil {
		return 0, 0, fmt.Errorf("must be daily, weekly or a Go duration such as 12h, got %q", s)
	}
	if d <= 0 {
		return 0, 0, fmt.Errorf("must be positive, got %s", s)
	}
	if d%(24*time.Hour) == 0 {
		return int(d / (24 * time.Hour)), 0, nil
	}
	return 0, d, nil
}

func (r *Roster) location() *time.Location { return zone(r.TimeZone) }

// Shift returns the index of the shift that contains t (negative before
// Start) and when that shift began.
func (r *Roster) Shift(t time.Time) (int, time.Time) {
	days, d, err := parseHandoff(r.Handoff)
	if err != nil {
		return 0, r.Start
	}
	if d > 0 {
		k := int(t.Sub(r.Start) / d)
		if t.Before(r.Start) && t.Sub(r.Start)%d != 0 {
			k--
		}
		return k, r.Start.Add(time.Duration(k) * d)
	}
	s := r.Start.In(r.location())
	at := func(k int) time.Time {
		return time.Date(s.Year(), s.Month(), s.Day()+k*days, s.Hour(), s.Minute(), s.Second(), s.Nanosecond(), s.Location())
	}
	// A first guess from Unix seconds (t.Sub saturates beyond 292 years, and
	// the loops below would then walk day by day); the loops fix DST shifts.
	k := int((t.Unix() - r.Start.Unix()) / (int64(days) * 86400))
	for at(k).After(t) {
		k--
	}
	for !at(k + 1).After(t) {
		k++
	}
	return k, at(k)
}

// Scheduled returns the index in People of who the rotation puts on call at
// t, ignoring overrides, or -1 when the roster has nobody.
func (r *Roster) Scheduled(t time.Time) int {
	if r == nil || len(r.People) == 0 {
		return -1
	}
	k, _ := r.Shift(t)
	n := len(r.People)
	return ((k % n) + n) % n
}

// OnCall returns who is on call at t, with overrides applied; ok is false
// when nobody is (empty roster, or an override without a person).
func (r *Roster) OnCall(t time.Time) (name string, ok bool) {
	if r == nil {
		return "", false
	}
	if o, hit := r.override(t); hit {
		return o.Person, o.Person != ""
	}
	i := r.Scheduled(t)
	if i < 0 {
		return "", false
	}
	return r.People[i], true
}

// Order returns the roster starting from whoever is on call at t and then
// the others in rotation order, each once. It is empty when nobody is on call.
func (r *Roster) Order(t time.Time) []string {
	first, ok := r.OnCall(t)
	if !ok {
		return nil
	}
	out := []string{first}
	seen := map[string]bool{first: true}
	start := r.Scheduled(t)
	if start < 0 {
		return out
	}
	for i := range r.People {
		name := r.People[(start+i)%len(r.People)]
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

func (r *Roster) override(t time.Time) (Override, bool) {
	for _, o := range r.Overrides {
		if !t.Before(o.Start) && t.Before(o.End) {
			return o, true
		}
	}
	return Override{}, false
}
