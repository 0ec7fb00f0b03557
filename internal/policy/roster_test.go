package policy

import (
	"reflect"
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRosterHandoffs(t *testing.T) {
	ny := &Roster{Rotation: Rotation{People: []string{"alice", "bob", "carol"}, Handoff: HandoffDaily,
		Start: time.Date(2026, 3, 1, 9, 0, 0, 0, time.FixedZone("EST", -5*3600)), TimeZone: "America/New_York"}}
	weekly := &Roster{Rotation: Rotation{People: []string{"aiko", "kenji"}, Handoff: HandoffWeekly,
		Start: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), TimeZone: "Europe/London"}}
	exact := &Roster{Rotation: Rotation{People: []string{"day", "night"}, Handoff: "12h",
		Start: time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC), TimeZone: "America/New_York"}}
	tests := []struct {
		name   string
		r      *Roster
		at     string
		want   string
		starts string // when the shift began
	}{
		{"first shift", ny, "2026-03-01T14:00:00Z", "alice", "2026-03-01T09:00:00-05:00"},
		{"before start wraps backwards", ny, "2026-02-28T15:00:00Z", "carol", "2026-02-28T09:00:00-05:00"},
		{"spring forward: 08:59 EDT is still the old shift", ny, "2026-03-08T12:59:00Z", "alice", "2026-03-07T09:00:00-05:00"},
		{"spring forward: hand-off at 09:00 EDT, 13:00Z", ny, "2026-03-08T13:00:00Z", "bob", "2026-03-08T09:00:00-04:00"},
		{"spring forward: 13:30Z is the new shift", ny, "2026-03-08T13:30:00Z", "bob", "2026-03-08T09:00:00-04:00"},
		{"fall back: 08:30 EST is still the old shift", ny, "2026-11-01T13:30:00Z", "bob", "2026-10-31T09:00:00-04:00"},
		{"fall back: hand-off at 09:00 EST, 14:00Z", ny, "2026-11-01T14:00:00Z", "carol", "2026-11-01T09:00:00-05:00"},
		{"weekly across BST", weekly, "2026-04-06T08:00:00Z", "kenji", "2026-04-06T09:00:00+01:00"},
		{"weekly before the BST hand-off", weekly, "2026-04-06T07:59:00Z", "aiko", "2026-03-30T09:00:00+01:00"},
		{"exact 12h ignores DST", exact, "2026-03-08T07:00:00Z", "day", "2026-03-08T07:00:00Z"},
		{"exact 12h night", exact, "2026-03-09T06:59:00Z", "night", "2026-03-08T19:00:00Z"},
		{"exact 12h before start", exact, "2026-03-01T06:00:00Z", "night", "2026-02-28T19:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := mustTime(t, tt.at)
			if got := tt.r.OnCall(at); !reflect.DeepEqual(got, []string{tt.want}) {
				t.Errorf("OnCall(%s) = %q; want %q", tt.at, got, tt.want)
			}
			_, began := tt.r.Shift(at)
			if want := mustTime(t, tt.starts); !began.Equal(want) {
				t.Errorf("shift began %s, want %s", began, want)
			}
		})
	}
}

func TestRosterOverridesAndOrder(t *testing.T) {
	r := &Roster{Rotation: Rotation{People: []string{"alice", "bob", "carol"}, Handoff: HandoffDaily,
		Start: time.Date(2026, 3, 1, 9, 0, 0, 0, time.FixedZone("EST", -5*3600)), TimeZone: "America/New_York"},
		Overrides: []Override{
			{Person: "dave", Start: time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 21, 0, 0, 0, 0, time.UTC)},
			{Person: "carol", Start: time.Date(2026, 3, 22, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 23, 0, 0, 0, 0, time.UTC)},
			{Start: time.Date(2026, 3, 25, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 26, 0, 0, 0, 0, time.UTC)},
		}}
	tests := []struct {
		name string
		at   string
		want []string
	}{
		{"no override", "2026-03-08T13:30:00Z", []string{"bob", "carol", "alice"}},
		{"outsider covers, then the rotation", "2026-03-20T12:00:00Z", []string{"dave", "alice", "bob", "carol"}},
		{"override ends exclusive", "2026-03-21T00:00:00Z", []string{"bob", "carol", "alice"}},
		{"roster member covers, not repeated", "2026-03-22T12:00:00Z", []string{"carol", "alice", "bob"}},
		{"holiday: nobody", "2026-03-25T12:00:00Z", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Order(mustTime(t, tt.at))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Order = %q, want %q", got, tt.want)
			}
		})
	}
	if got := (&Roster{Rotation: Rotation{Handoff: HandoffDaily}}).OnCall(time.Now()); len(got) > 0 {
		t.Error("empty roster has someone on call")
	}
}
