package policy

import (
	"slices"
	"time"
)

// Where the people on call come from (Cover.Source).
const (
	// SourceOverride is an override of the roster (no people: a holiday).
	SourceOverride = "override"
	// SourceLayer is one of the roster's layers (Cover.Layer names it).
	SourceLayer = "layer"
	// SourceBase is the roster's base rotation.
	SourceBase = "base"
)

// Cover is who is on call from one source of a roster.
type Cover struct {
	// People are on call, in order; empty: nobody.
	People []string `json:"people"`
	// Source is SourceOverride, SourceLayer or SourceBase; "" when nobody
	// is on call and no override says so.
	Source string `json:"source,omitempty"`
	// Layer is the layer's name when Source is SourceLayer.
	Layer string `json:"layer,omitempty"`

	layer int // the layer's index when Source is SourceLayer
}

// same reports whether c and o are the same people from the same source.
func (c Cover) same(o Cover) bool {
	return c.Source == o.Source && c.Layer == o.Layer && slices.Equal(c.People, o.People)
}

// Handoff is a change of who is on call: from At, Cover.
type Handoff struct {
	At time.Time `json:"at"`
	Cover
}

// RotationNow is one rotation of a roster at a moment: who it has on call
// (nobody outside a layer's restrictions), and its members.
type RotationNow struct {
	// Source is SourceBase or SourceLayer, Layer the layer's name.
	Source string `json:"source"`
	Layer  string `json:"layer,omitempty"`
	// Members are the rotation's people in order; AtOnce how many are on
	// call at once.
	Members []string `json:"members"`
	AtOnce  int      `json:"on_call"`
	Handoff string   `json:"handoff,omitempty"`
	// Restrict are a layer's windows (empty: always).
	Restrict []string `json:"restrict,omitempty"`
	// People are on call in this rotation at the moment.
	People []string `json:"people"`
}

// OnCall is who is on call in a roster at a moment, and why: the answer of
// Roster.OnCallAt, which `policy simulate`, `policy check` and `escalator
// oncall` show.
type OnCall struct {
	// At is the moment asked about; TimeZone the roster's zone.
	At       time.Time `json:"at"`
	TimeZone string    `json:"time_zone"`
	// Cover is who is on call at At and where they come from.
	Cover
	// Since and Until bound the shift: the same people from the same
	// source. Zero when it began, or ends, further than escalator looks
	// (about a thousand hand-offs of the roster's rotations, or never).
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// Covers, when an override or a layer covers, is who it stands in for:
	// whom the layers beneath it and the base would have had on call.
	Covers *Cover `json:"covers,omitempty"`
	// Override is the override in force, if any.
	Override *Override `json:"override,omitempty"`
	// Rotations are the base and each layer at At, base first.
	Rotations []RotationNow `json:"rotations"`
	// Next are the hand-offs after Until, in order.
	Next []Handoff `json:"next,omitempty"`
}

// maxBoundaries bounds how many moments of change OnCallAt walks past to
// find the start or the end of a shift (the rotations' hand-offs, the
// layers' windows, the overrides).
const maxBoundaries = 1000

// OnCallAt returns who is on call in r at t, since when and until when,
// which layer or override covers and whom it stands in for, each rotation at
// t, and the next hand-offs after the current shift (at most next of them).
func (r *Roster) OnCallAt(t time.Time, next int) OnCall {
	oc := OnCall{At: t, TimeZone: r.TimeZone, Cover: r.cover(t)}
	if oc.TimeZone == "" {
		oc.TimeZone = "UTC"
	}
	if oc.Source == SourceOverride {
		if o, ok := r.override(t); ok {
			oc.Override = &o
		}
		under := r.layered(t, len(r.Layers))
		oc.Covers = &under
	} else if oc.Source == SourceLayer {
		under := r.layered(t, oc.layer)
		oc.Covers = &under
	}
	if oc.Covers != nil && len(oc.Covers.People) == 0 {
		oc.Covers = nil
	}
	oc.Rotations = append(oc.Rotations, rotationNow(&r.Rotation, SourceBase, "", nil, t))
	for i := range r.Layers {
		l := &r.Layers[i]
		oc.Rotations = append(oc.Rotations, rotationNow(&l.Rotation, SourceLayer, l.Name, l.Restrict, t))
		oc.Rotations[i+1].People = l.onCall(t)
	}
	oc.Since = r.since(t, oc.Cover)
	oc.Until = r.until(t, oc.Cover)
	at, c := oc.Until, oc.Cover
	for len(oc.Next) < next && !at.IsZero() {
		nc := r.cover(at)
		if nc.same(c) { // cannot happen: until stops at a change
			break
		}
		nc.People = nonNil(nc.People)
		oc.Next = append(oc.Next, Handoff{At: at, Cover: nc})
		at, c = r.until(at, nc), nc
	}
	oc.People = nonNil(oc.People)
	for i := range oc.Rotations {
		oc.Rotations[i].People = nonNil(oc.Rotations[i].People)
	}
	return oc
}

// nonNil returns s, or an empty list for nil (JSON [] rather than null).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func rotationNow(rot *Rotation, source, layer string, restrict []TimeWindow, t time.Time) RotationNow {
	rn := RotationNow{Source: source, Layer: layer, Members: rot.People, AtOnce: rot.atOnce(), People: rot.onCall(t)}
	if rot.hands() {
		rn.Handoff = rot.Handoff
	}
	for _, w := range restrict {
		rn.Restrict = append(rn.Restrict, w.String())
	}
	if rn.Members == nil {
		rn.Members = []string{}
	}
	return rn
}

// cover returns who is on call at t and from where. Its People are a slice
// of its own, which the caller may grow.
func (r *Roster) cover(t time.Time) Cover {
	if r == nil {
		return Cover{}
	}
	if o, ok := r.override(t); ok {
		return Cover{People: slices.Clone(o.Who()), Source: SourceOverride}
	}
	return r.layered(t, len(r.Layers))
}

// layered returns who the layers below index below, or else the base, have
// on call at t: the highest such layer that has someone.
func (r *Roster) layered(t time.Time, below int) Cover {
	for i := below - 1; i >= 0; i-- {
		l := &r.Layers[i]
		if people := l.onCall(t); len(people) > 0 {
			return Cover{People: people, Source: SourceLayer, Layer: l.Name, layer: i}
		}
	}
	if people := r.Rotation.onCall(t); len(people) > 0 {
		return Cover{People: people, Source: SourceBase}
	}
	return Cover{}
}

// rotation returns the rotation c comes from, or nil.
func (r *Roster) rotation(c Cover) *Rotation {
	switch c.Source {
	case SourceBase:
		return &r.Rotation
	case SourceLayer:
		return &r.Layers[c.layer].Rotation
	}
	return nil
}

// since returns when the shift c, on call at t, began: the latest moment
// of change at or before t before which someone else, or the same people
// from elsewhere, was on call. Zero when none is found.
func (r *Roster) since(t time.Time, c Cover) time.Time {
	at := t
	for range maxBoundaries {
		b, ok := r.prevBoundary(at)
		if !ok {
			return time.Time{}
		}
		if !r.cover(b.Add(-time.Nanosecond)).same(c) {
			return b
		}
		at = b.Add(-time.Nanosecond)
	}
	return time.Time{}
}

// until returns when the shift c, on call at t, ends: the first moment of
// change after t at which someone else is on call. Zero when none is found.
func (r *Roster) until(t time.Time, c Cover) time.Time {
	at := t
	for range maxBoundaries {
		b, ok := r.nextBoundary(at)
		if !ok {
			return time.Time{}
		}
		if !r.cover(b).same(c) {
			return b
		}
		at = b
	}
	return time.Time{}
}

// nextBoundary returns the first moment after t at which who is on call
// may change: a hand-off, a layer's window opening or closing, an override
// beginning or ending.
func (r *Roster) nextBoundary(t time.Time) (time.Time, bool) {
	var best time.Time
	r.boundaries(t, func(b time.Time) {
		if b.After(t) && (best.IsZero() || b.Before(best)) {
			best = b
		}
	})
	return best, !best.IsZero()
}

// prevBoundary returns the last moment at or before t at which who is on
// call may have changed.
func (r *Roster) prevBoundary(t time.Time) (time.Time, bool) {
	var best time.Time
	r.boundaries(t, func(b time.Time) {
		if !b.After(t) && (best.IsZero() || b.After(best)) {
			best = b
		}
	})
	return best, !best.IsZero()
}

// boundaries calls f with the moments around t at which who is on call may
// change: the current shifts' starts and ends, the layers' window edges,
// the overrides' starts and ends.
func (r *Roster) boundaries(t time.Time, f func(time.Time)) {
	if r.Rotation.hands() {
		_, began, end := r.Rotation.shift(t)
		f(began)
		f(end)
	}
	for i := range r.Layers {
		l := &r.Layers[i]
		if l.hands() {
			_, began, end := l.shift(t)
			f(began)
			f(end)
		}
		for j := range l.Restrict {
			l.Restrict[j].edges(t, f)
		}
	}
	for _, o := range r.Overrides {
		f(o.Start)
		f(o.End)
	}
}

// edges calls f with the start and end of every stretch of the window that
// starts within eight days of t's local date, either side: enough to find
// the window's last edge before t and its first after, for any days.
func (w *TimeWindow) edges(t time.Time, f func(time.Time)) {
	loc := w.location()
	y, m, d := t.In(loc).Date()
	for k := -8; k <= 8; k++ {
		if s, e, ok := w.stretch(y, m, d+k, loc); ok {
			f(s)
			f(e)
		}
	}
}
