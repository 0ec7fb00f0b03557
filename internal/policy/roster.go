package policy

import (
	"fmt"
	"slices"
	"time"
)

// Hand-off periods a roster may name; any Go duration is also accepted.
const (
	HandoffDaily  = "daily"
	HandoffWeekly = "weekly"
)

// Rotation is people taking turns: from Start, every Handoff, the next
// AtOnce people of People are on call. A roster's base rotation and each of
// its layers is one.
type Rotation struct {
	// People are the names of the rotation, in order.
	People []string `json:"people"`
	// Handoff is "daily", "weekly" or a Go duration ("12h", "336h"). Whole
	// days hand off at Start's local wall-clock time every time, so a 09:00
	// hand-off stays at 09:00 across DST changes; other durations are exact
	// elapsed time. Empty when nobody hands off (no more people than AtOnce).
	Handoff string `json:"handoff"`
	// Start is when People[0]'s first shift begins.
	Start time.Time `json:"start"`
	// TimeZone is an IANA name ("Asia/Tokyo"); empty means UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// AtOnce is how many consecutive people of the rotation are on call at
	// once (on_call in the files); 0 means 1. Shift k has people k, k+1, …,
	// k+AtOnce-1 (modulo the count): at every hand-off one leaves and the
	// next joins.
	AtOnce int `json:"on_call,omitempty"`
}

// Roster is an on-call schedule: a base rotation, layers above it, and
// overrides above everything. A roster defined in a file of its own is
// shared, by Name; a policy's own roster has no name.
type Roster struct {
	// Name is a shared roster's name ("" for a policy's own roster).
	Name string `json:"name,omitempty"`
	// File is the file a shared roster was read from.
	File string `json:"file,omitempty"`
	// Description is a shared roster's free text.
	Description string `json:"description,omitempty"`
	// Rotation is the base rotation; its People may be empty when the
	// roster has layers.
	Rotation
	// Layers are rotations above the base, lowest first: at a moment, the
	// highest layer that has someone on call covers the ones below it and
	// the base.
	Layers []Layer `json:"layers,omitempty"`
	// Overrides take precedence over the layers and the base; the first one
	// covering a moment wins.
	Overrides []Override `json:"overrides,omitempty"`

	pos Problem // where the name (a shared roster) or the roster was written
}

// Layer is a rotation over the base of a roster, on call only within its
// Restrict windows (always, when there are none).
type Layer struct {
	// Name says which layer it is in what escalator shows ("layer 2" when
	// the file gives none).
	Name string `json:"name"`
	Rotation
	// Restrict, when not empty, are the only times the layer has anyone on
	// call ("weekdays 09:00–18:00"); outside them it covers nobody.
	Restrict []TimeWindow `json:"restrict,omitempty"`
}

// Override is people covering the on-call shift from Start until End, in
// place of whoever the layers and the base have. With nobody (neither
// Person nor People) nobody is on call then (a holiday): steps that notify
// the on-call people or the roster are skipped.
type Override struct {
	// Person is the one who covers (person: in the files).
	Person string `json:"person,omitempty"`
	// People are the ones who cover, when several do (people: in the files).
	People []string  `json:"people,omitempty"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

// Who returns the people the override puts on call, in order.
func (o Override) Who() []string {
	if len(o.People) > 0 {
		return o.People
	}
	if o.Person != "" {
		return []string{o.Person}
	}
	return nil
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

func (r *Rotation) location() *time.Location { return zone(r.TimeZone) }

// atOnce is how many people the rotation has on call at once.
func (r *Rotation) atOnce() int {
	n := max(r.AtOnce, 1)
	return min(n, len(r.People))
}

// hands reports whether the rotation ever changes who is on call.
func (r *Rotation) hands() bool {
	if len(r.People) <= r.atOnce() {
		return false
	}
	_, _, err := parseHandoff(r.Handoff)
	return err == nil
}

// Shift returns the index of the shift that contains t (negative before
// Start) and when that shift began.
func (r *Rotation) Shift(t time.Time) (int, time.Time) {
	k, began, _ := r.shift(t)
	return k, began
}

// shift is Shift with the end of the shift too (zero when the hand-off is
// not valid).
func (r *Rotation) shift(t time.Time) (int, time.Time, time.Time) {
	days, d, err := parseHandoff(r.Handoff)
	if err != nil {
		return 0, r.Start, time.Time{}
	}
	if d > 0 {
		k := int(t.Sub(r.Start) / d)
		if t.Before(r.Start) && t.Sub(r.Start)%d != 0 {
			k--
		}
		began := r.Start.Add(time.Duration(k) * d)
		return k, began, began.Add(d)
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
	return k, at(k), at(k + 1)
}

// Scheduled returns the index in People of the first person the rotation
// puts on call at t, or -1 when it has nobody.
func (r *Rotation) Scheduled(t time.Time) int {
	if r == nil || len(r.People) == 0 {
		return -1
	}
	if len(r.People) <= r.atOnce() {
		return 0
	}
	k, _ := r.Shift(t)
	n := len(r.People)
	return ((k % n) + n) % n
}

// onCall returns the people the rotation has on call at t, in order; nil
// when it has nobody. A person listed twice is on call once.
func (r *Rotation) onCall(t time.Time) []string {
	first := r.Scheduled(t)
	if first < 0 {
		return nil
	}
	n := r.atOnce()
	out := make([]string, 0, n)
	for i := range n {
		name := r.People[(first+i)%len(r.People)]
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// covers reports whether the layer is on call at t (its restrictions).
func (l *Layer) covers(t time.Time) bool {
	if len(l.Restrict) == 0 {
		return true
	}
	for i := range l.Restrict {
		if _, _, ok := l.Restrict[i].cover(t); ok {
			return true
		}
	}
	return false
}

// onCall returns the people the layer has on call at t: nobody outside its
// restrictions.
func (l *Layer) onCall(t time.Time) []string {
	if !l.covers(t) {
		return nil
	}
	return l.Rotation.onCall(t)
}

// OnCall returns who is on call at t, in order: an override's people (none
// on a holiday), else the people of the highest layer that has someone,
// else the base rotation's. It is empty when nobody is.
func (r *Roster) OnCall(t time.Time) []string {
	return r.cover(t).People
}

// Order returns the roster starting from whoever is on call at t, then the
// rotation they come from going on from there (under an override, the one
// the override stands in for), then everyone else on the roster in
// definition order, each once. It is empty when nobody is on call.
func (r *Roster) Order(t time.Time) []string {
	c := r.cover(t)
	if len(c.People) == 0 {
		return nil
	}
	out := c.People // cover's own slice: ours to grow
	src := c
	if c.Source == SourceOverride {
		src = r.layered(t, len(r.Layers))
	}
	add := func(name string) {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if rot := r.rotation(src); rot != nil {
		if first := rot.Scheduled(t); first >= 0 {
			for i := range rot.People {
				add(rot.People[(first+i)%len(rot.People)])
			}
		}
	}
	for _, name := range r.People {
		add(name)
	}
	for i := range r.Layers {
		for _, name := range r.Layers[i].People {
			add(name)
		}
	}
	return out
}

// Members returns everyone on the roster's rotations in definition order,
// the base first and then each layer, each once; override people who are
// on no rotation are not members.
func (r *Roster) Members() []string {
	if r == nil {
		return nil
	}
	var out []string
	add := func(names []string) {
		for _, n := range names {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	add(r.People)
	for i := range r.Layers {
		add(r.Layers[i].People)
	}
	return out
}

// Everyone returns everyone the roster may ever put on call: its members,
// then the override people who are not members.
func (r *Roster) Everyone() []string {
	out := r.Members()
	if r == nil {
		return out
	}
	for _, o := range r.Overrides {
		for _, n := range o.Who() {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// MaxOnCall is the most people the roster may have on call at once.
func (r *Roster) MaxOnCall() int {
	if r == nil {
		return 0
	}
	n := r.Rotation.atOnce()
	for i := range r.Layers {
		n = max(n, r.Layers[i].atOnce())
	}
	for _, o := range r.Overrides {
		n = max(n, len(o.Who()))
	}
	return n
}

func (r *Roster) override(t time.Time) (Override, bool) {
	for _, o := range r.Overrides {
		if !t.Before(o.Start) && t.Before(o.End) {
			return o, true
		}
	}
	return Override{}, false
}
