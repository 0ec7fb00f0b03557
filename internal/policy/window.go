package policy

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// dayNames are the day names a window's days are written with, by
// time.Weekday; the long names are accepted too (any case) and stored short.
var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// parseDay reads a day name: sun … sat or sunday … saturday, any case.
func parseDay(s string) (time.Weekday, bool) {
	s = strings.ToLower(s)
	for i, short := range dayNames {
		long := time.Weekday(i).String()
		if s == short || s == strings.ToLower(long) {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// clock reads a time of day "HH:MM" (00:00 to 23:59) as minutes after
// midnight; end allows "24:00", the end of the day.
func clock(s string, end bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	digit := func(c byte) (int, bool) { return int(c - '0'), c >= '0' && c <= '9' }
	h1, ok1 := digit(s[0])
	h2, ok2 := digit(s[1])
	m1, ok3 := digit(s[3])
	m2, ok4 := digit(s[4])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, false
	}
	h, m := h1*10+h2, m1*10+m2
	switch {
	case m > 59:
		return 0, false
	case h == 24 && m == 0 && end:
		return 24 * 60, true
	case h > 23:
		return 0, false
	}
	return h*60 + m, true
}

func (w *TimeWindow) location() *time.Location { return zone(w.TimeZone) }

// locations caches time.LoadLocation, which reads the zone's file each
// time; Plan asks for a roster's zone, and MatchAt for an active_time's, on
// every decision.
var locations sync.Map // name → *time.Location

// zone returns the location named name (empty: UTC), cached; an unknown name
// (which validation refuses) is UTC.
func zone(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	if loc, ok := locations.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	locations.Store(name, loc)
	return loc
}

// onDay reports whether the window has a stretch starting on weekday wd.
func (w *TimeWindow) onDay(wd time.Weekday) bool {
	if len(w.Days) == 0 {
		return true
	}
	for _, d := range w.Days {
		if day, ok := parseDay(d); ok && day == wd {
			return true
		}
	}
	return false
}

// stretch returns the window's stretch that starts on the local date y-m-d:
// from the moment the wall clock in the window's zone first reads From that
// day to the moment it first reads To after that (the next day's To when To
// is not after From). ok is false when the window has no stretch that day.
func (w *TimeWindow) stretch(y int, m time.Month, d int, loc *time.Location) (start, end time.Time, ok bool) {
	from, ok1 := clock(w.From, false)
	to, ok2 := clock(w.To, true)
	if !ok1 || !ok2 || from == to || !w.onDay(time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday()) {
		return time.Time{}, time.Time{}, false
	}
	if to < from {
		to += 24 * 60
	}
	start = wallClock(time.Date(y, m, d, 0, from, 0, 0, time.UTC), loc)
	end = wallClock(time.Date(y, m, d, 0, to, 0, 0, time.UTC), loc)
	return start, end, end.After(start)
}

// cover returns the stretch of the window that contains t.
func (w *TimeWindow) cover(t time.Time) (start, end time.Time, ok bool) {
	loc := w.location()
	lt := t.In(loc)
	y, m, d := lt.Date()
	// The stretch that contains t starts on t's local date or the day
	// before (one that runs past midnight); the day after only where the
	// clocks went back over midnight.
	for k := -1; k <= 1; k++ {
		if s, e, ok := w.stretch(y, m, d+k, loc); ok && !t.Before(s) && t.Before(e) {
			return s, e, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// wallClock returns the first moment at which the wall clock in loc reads
// the date and time of u (given in UTC) or later. A time the clocks skip
// (spring forward) is the moment they jump; a time they show twice (fall
// back) is its first occurrence.
func wallClock(u time.Time, loc *time.Location) time.Time {
	// The offsets in force around u: the moment wanted is u minus one of
	// them, within 14 hours of u.
	_, before := u.Add(-15 * time.Hour).In(loc).Zone()
	_, after := u.Add(15 * time.Hour).In(loc).Zone()
	for _, off := range []int{before, after} {
		x := u.Add(-time.Duration(off) * time.Second).In(loc)
		if _, o := x.Zone(); o == off {
			return x
		}
	}
	// Neither: u is in a gap. The clocks jumped at the end of the period
	// that an instant before the gap belongs to.
	x := u.Add(-time.Duration(after) * time.Second).In(loc)
	if _, end := x.ZoneBounds(); !end.IsZero() {
		return end.In(loc)
	}
	return u.Add(-time.Duration(before) * time.Second).In(loc)
}

// String describes the window: "mon–fri 09:00–18:00 Asia/Tokyo", "every day
// 22:00–02:00 UTC".
func (w TimeWindow) String() string {
	tz := w.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	return fmt.Sprintf("%s %s–%s %s", w.days(), w.From, w.To, tz)
}

// days writes the days: "every day", "sun", "sat,sun", or a run of three or
// more in week order as "mon–fri".
func (w TimeWindow) days() string {
	if len(w.Days) == 0 {
		return "every day"
	}
	run := len(w.Days) >= 3
	for i := 1; i < len(w.Days) && run; i++ {
		a, ok1 := parseDay(w.Days[i-1])
		b, ok2 := parseDay(w.Days[i])
		run = ok1 && ok2 && b == a+1
	}
	if run {
		return w.Days[0] + "–" + w.Days[len(w.Days)-1]
	}
	return strings.Join(w.Days, ",")
}

// String describes the maintenance window: "weekly sun 01:00–03:00
// Asia/Tokyo", "daily 01:00–02:00 UTC", or "2026-12-31T22:00:00+09:00 to
// 2027-01-01T06:00:00+09:00".
func (w Window) String() string {
	if w.Weekly == nil {
		return w.Start.Format(time.RFC3339) + " to " + w.End.Format(time.RFC3339)
	}
	if len(w.Weekly.Days) == 0 {
		tw := *w.Weekly
		return "daily " + strings.TrimPrefix(tw.String(), "every day ")
	}
	return "weekly " + w.Weekly.String()
}

// cover returns the stretch of the maintenance window that contains t.
func (w *Window) cover(t time.Time) (start, end time.Time, ok bool) {
	if w.Weekly != nil {
		return w.Weekly.cover(t)
	}
	if !t.Before(w.Start) && t.Before(w.End) {
		return w.Start, w.End, true
	}
	return time.Time{}, time.Time{}, false
}
