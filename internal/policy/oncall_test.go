package policy

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func loadShared(t testing.TB) *Set {
	t.Helper()
	set, err := LoadWith(testOptions, "testdata/shared")
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// cover writes a Cover as "people (source)": "noa,ren (layer business-hours)".
func coverString(c *Cover) string {
	if c == nil {
		return ""
	}
	src := c.Source
	if c.Layer != "" {
		src += " " + c.Layer
	}
	return strings.Join(c.People, ",") + " (" + src + ")"
}

func jst(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s+"+09:00")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOnCallAt: the roster db-primary of testdata/shared, in Asia/Tokyo: a
// weekly base (aiko, kenji, yuki from Monday 5 January 09:00), a layer
// business-hours of two out of noa, ren, aiko, handing off daily, on
// weekdays 09:00–18:00, and overrides: a holiday on 20 March, desk and kenji
// on 23 March 12:00–13:00, yuki over New Year.
func TestOnCallAt(t *testing.T) {
	set := loadShared(t)
	r, _ := set.Roster("db-primary")
	tests := []struct {
		name, at     string
		who          string // coverString of the people on call
		since, until string
		covers       string
	}{
		{"business hours: the layer covers the base", "2026-03-09T10:00:00", "noa,ren (layer business-hours)",
			"2026-03-09T09:00:00", "2026-03-09T18:00:00", "aiko (base)"},
		{"the layer's window closes: the base", "2026-03-09T18:00:00", "aiko (base)",
			"2026-03-09T18:00:00", "2026-03-10T09:00:00", ""},
		{"before the weekly hand-off", "2026-03-09T08:59:00", "yuki (base)",
			"2026-03-06T18:00:00", "2026-03-09T09:00:00", ""},
		{"the weekend", "2026-03-14T12:00:00", "aiko (base)",
			"2026-03-13T18:00:00", "2026-03-16T09:00:00", ""},
		{"the next day, the next two", "2026-03-10T17:59:59", "ren,aiko (layer business-hours)",
			"2026-03-10T09:00:00", "2026-03-10T18:00:00", "aiko (base)"},
		{"a holiday over everything", "2026-03-20T10:00:00", " (override)",
			"2026-03-20T00:00:00", "2026-03-21T00:00:00", "aiko,noa (layer business-hours)"},
		{"an override of two", "2026-03-23T12:30:00", "desk,kenji (override)",
			"2026-03-23T12:00:00", "2026-03-23T13:00:00", "aiko,noa (layer business-hours)"},
		{"the override ends (exclusive)", "2026-03-23T13:00:00", "aiko,noa (layer business-hours)",
			"2026-03-23T13:00:00", "2026-03-23T18:00:00", "yuki (base)"},
		{"New Year: an override over the base", "2027-01-02T10:00:00", "yuki (override)",
			"2026-12-28T09:00:00", "2027-01-04T09:00:00", "aiko (base)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oc := r.OnCallAt(jst(t, tt.at), 0)
			if got := coverString(&oc.Cover); got != tt.who {
				t.Errorf("on call %s, want %s", got, tt.who)
			}
			if want := jst(t, tt.since); !oc.Since.Equal(want) {
				t.Errorf("since %s, want %s", oc.Since, want)
			}
			if want := jst(t, tt.until); !oc.Until.Equal(want) {
				t.Errorf("until %s, want %s", oc.Until, want)
			}
			if got := coverString(oc.Covers); got != tt.covers {
				t.Errorf("covers %q, want %q", got, tt.covers)
			}
			if got := r.OnCall(jst(t, tt.at)); !reflect.DeepEqual(nonNil(got), oc.People) {
				t.Errorf("OnCall %q, OnCallAt %q", got, oc.People)
			}
		})
	}
}

func TestOnCallNext(t *testing.T) {
	set := loadShared(t)
	r, _ := set.Roster("db-primary")
	oc := r.OnCallAt(jst(t, "2026-03-19T20:00:00"), 4)
	var got []string
	for _, h := range oc.Next {
		got = append(got, h.At.In(r.location()).Format("Mon 01-02 15:04")+" "+coverString(&h.Cover))
	}
	want := []string{
		"Fri 03-20 00:00  (override)", // the holiday
		"Sat 03-21 00:00 kenji (base)",
		"Mon 03-23 09:00 aiko,noa (layer business-hours)",
		"Mon 03-23 12:00 desk,kenji (override)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("next:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(oc.Rotations) != 2 || oc.Rotations[1].Layer != "business-hours" || oc.Rotations[1].AtOnce != 2 ||
		!reflect.DeepEqual(oc.Rotations[1].People, []string{}) || !reflect.DeepEqual(oc.Rotations[0].People, []string{"kenji"}) ||
		!reflect.DeepEqual(oc.Rotations[1].Restrict, []string{"mon–fri 09:00–18:00 Asia/Tokyo"}) {
		t.Errorf("rotations at Thursday 20:00: %+v", oc.Rotations)
	}
	// One person always on call: no shift edges at all.
	one := &Roster{Rotation: Rotation{People: []string{"aiko"}}}
	if oc := one.OnCallAt(jst(t, "2026-03-19T20:00:00"), 3); !oc.Since.IsZero() || !oc.Until.IsZero() || len(oc.Next) != 0 ||
		!reflect.DeepEqual(oc.People, []string{"aiko"}) || oc.TimeZone != "UTC" {
		t.Errorf("a roster of one: %+v", oc)
	}
}

// TestOnCallSliding: on_call 2 of four, weekly: at each hand-off one leaves
// and the next joins.
func TestOnCallSliding(t *testing.T) {
	r := &Roster{Rotation: Rotation{People: []string{"a", "b", "c", "d"}, AtOnce: 2, Handoff: HandoffWeekly,
		Start: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)}}
	var got []string
	for w := range 5 {
		got = append(got, strings.Join(r.OnCall(r.Start.Add(time.Duration(w)*7*24*time.Hour)), ""))
	}
	if want := []string{"ab", "bc", "cd", "da", "ab"}; !reflect.DeepEqual(got, want) {
		t.Errorf("weeks: %q, want %q", got, want)
	}
	if got := r.Order(r.Start.Add(14 * 24 * time.Hour)); !reflect.DeepEqual(got, []string{"c", "d", "a", "b"}) {
		t.Errorf("order in week 3: %q", got)
	}
}

// TestLayeredOrder: notify {roster: X} calls the on-call people, then the
// rotation they come from, then everyone else on the roster, each once.
func TestLayeredOrder(t *testing.T) {
	set := loadShared(t)
	r, _ := set.Roster("db-primary")
	tests := []struct {
		name, at string
		want     []string
	}{
		{"the layer, then its rotation, then the rest", "2026-03-09T10:00:00", []string{"noa", "ren", "aiko", "kenji", "yuki"}},
		{"the base, then its rotation, then the layer's people", "2026-03-14T12:00:00", []string{"aiko", "kenji", "yuki", "noa", "ren"}},
		{"an override, then the rotation it stands in for", "2026-03-23T12:30:00", []string{"desk", "kenji", "aiko", "noa", "ren", "yuki"}},
		{"a holiday: nobody", "2026-03-20T10:00:00", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Order(jst(t, tt.at)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Order = %q, want %q", got, tt.want)
			}
		})
	}
	if got := r.Members(); !reflect.DeepEqual(got, []string{"aiko", "kenji", "yuki", "noa", "ren"}) {
		t.Errorf("members %q", got)
	}
	if got := r.Everyone(); !reflect.DeepEqual(got, []string{"aiko", "kenji", "yuki", "noa", "ren", "desk"}) {
		t.Errorf("everyone %q", got)
	}
	if got := r.MaxOnCall(); got != 2 {
		t.Errorf("at most %d on call at once, want 2", got)
	}
}
