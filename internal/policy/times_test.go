package policy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
)

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	return mustTime(t, s).UTC()
}

// parseOne parses a policy written as YAML after its name, steps and people.
func parseOne(t *testing.T, extra string) *Policy {
	t.Helper()
	ps, err := ParseWith(testOptions, "x.yaml", []byte(policyWith(extra)))
	if err != nil {
		t.Fatal(err)
	}
	return ps[0]
}

func TestWallClock(t *testing.T) {
	tests := []struct {
		name, zone, wall, want string
	}{
		{"ordinary", "Asia/Tokyo", "2026-03-08T09:00:00Z", "2026-03-08T00:00:00Z"},
		{"before the spring gap", "America/New_York", "2026-03-08T01:59:00Z", "2026-03-08T06:59:00Z"},
		{"in the spring gap: when the clocks jump", "America/New_York", "2026-03-08T02:30:00Z", "2026-03-08T07:00:00Z"},
		{"the start of the gap", "America/New_York", "2026-03-08T02:00:00Z", "2026-03-08T07:00:00Z"},
		{"after the gap", "America/New_York", "2026-03-08T03:00:00Z", "2026-03-08T07:00:00Z"},
		{"repeated at fall back: the first", "America/New_York", "2026-11-01T01:30:00Z", "2026-11-01T05:30:00Z"},
		{"after fall back", "America/New_York", "2026-11-01T02:00:00Z", "2026-11-01T07:00:00Z"},
		{"half-hour DST: in the gap", "Australia/Lord_Howe", "2026-10-04T02:15:00Z", "2026-10-03T15:30:00Z"},
		{"midnight, southern hemisphere summer", "Australia/Sydney", "2026-01-01T00:00:00Z", "2025-12-31T13:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wallClock(utc(t, tt.wall), zone(tt.zone))
			if !got.Equal(utc(t, tt.want)) {
				t.Errorf("wallClock(%s in %s) = %s, want %s", tt.wall, tt.zone, got.UTC().Format(time.RFC3339), tt.want)
			}
		})
	}
}

func TestActiveAt(t *testing.T) {
	tests := []struct {
		name   string
		window string // active_time
		at     string
		want   bool
	}{
		// 2026-03-09 is a Monday; Tokyo is UTC+9 all year.
		{"office opens", `{days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00", time_zone: Asia/Tokyo}`, "2026-03-09T09:00:00+09:00", true},
		{"office, a second before closing", `{days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00", time_zone: Asia/Tokyo}`, "2026-03-09T17:59:59+09:00", true},
		{"office closes", `{days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00", time_zone: Asia/Tokyo}`, "2026-03-09T18:00:00+09:00", false},
		{"office, a second before opening", `{days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00", time_zone: Asia/Tokyo}`, "2026-03-09T08:59:59+09:00", false},
		{"office: Monday in Tokyo, Sunday in UTC", `{days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00", time_zone: Asia/Tokyo}`, "2026-03-08T23:30:00Z", false},
		{"office: Monday 10:00 in Tokyo, Monday 01:00 in UTC", `{days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00", time_zone: Asia/Tokyo}`, "2026-03-09T01:00:00Z", true},
		{"office: Saturday", `{days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00", time_zone: Asia/Tokyo}`, "2026-03-07T10:00:00+09:00", false},
		// A window past midnight belongs to the day it starts.
		{"friday night starts", `{days: [fri], from: "22:00", to: "02:00", time_zone: America/New_York}`, "2026-03-06T22:00:00-05:00", true},
		{"friday night, after midnight (Saturday)", `{days: [fri], from: "22:00", to: "02:00", time_zone: America/New_York}`, "2026-03-07T01:59:00-05:00", true},
		{"friday night ends", `{days: [fri], from: "22:00", to: "02:00", time_zone: America/New_York}`, "2026-03-07T02:00:00-05:00", false},
		{"saturday night is not friday's", `{days: [fri], from: "22:00", to: "02:00", time_zone: America/New_York}`, "2026-03-07T23:00:00-05:00", false},
		{"friday, after midnight, is thursday's night", `{days: [fri], from: "22:00", to: "02:00", time_zone: America/New_York}`, "2026-03-06T01:00:00-05:00", false},
		{"every night, after midnight", `{from: "22:00", to: "02:00"}`, "2026-03-07T01:00:00Z", true},
		{"the whole of saturday", `{days: [sat], from: "00:00", to: "24:00", time_zone: Asia/Tokyo}`, "2026-03-07T23:59:59+09:00", true},
		{"the whole of saturday, not sunday", `{days: [sat], from: "00:00", to: "24:00", time_zone: Asia/Tokyo}`, "2026-03-08T00:00:00+09:00", false},
		// America/New_York, spring forward on Sunday 2026-03-08 02:00 EST →
		// 03:00 EDT: sunday 01:00–04:00 lasts two hours.
		{"spring: opens at 01:00 EST", `{days: [sun], from: "01:00", to: "04:00", time_zone: America/New_York}`, "2026-03-08T06:00:00Z", true},
		{"spring: 03:59 EDT", `{days: [sun], from: "01:00", to: "04:00", time_zone: America/New_York}`, "2026-03-08T07:59:00Z", true},
		{"spring: closes at 04:00 EDT", `{days: [sun], from: "01:00", to: "04:00", time_zone: America/New_York}`, "2026-03-08T08:00:00Z", false},
		{"spring: a window in the gap is empty that day", `{days: [sun], from: "02:15", to: "02:45", time_zone: America/New_York}`, "2026-03-08T07:00:00Z", false},
		{"spring: the same window a week later", `{days: [sun], from: "02:15", to: "02:45", time_zone: America/New_York}`, "2026-03-15T06:30:00Z", true},
		{"spring: opening in the gap opens when the clocks jump", `{days: [sun], from: "02:30", to: "05:00", time_zone: America/New_York}`, "2026-03-08T07:00:00Z", true},
		{"spring: not before", `{days: [sun], from: "02:30", to: "05:00", time_zone: America/New_York}`, "2026-03-08T06:59:59Z", false},
		// Fall back on Sunday 2026-11-01 02:00 EDT → 01:00 EST: sunday
		// 01:00–04:00 lasts four hours.
		{"fall: opens at 01:00 EDT", `{days: [sun], from: "01:00", to: "04:00", time_zone: America/New_York}`, "2026-11-01T05:00:00Z", true},
		{"fall: 01:30 EST, the second time", `{days: [sun], from: "01:00", to: "04:00", time_zone: America/New_York}`, "2026-11-01T06:30:00Z", true},
		{"fall: 03:59 EST", `{days: [sun], from: "01:00", to: "04:00", time_zone: America/New_York}`, "2026-11-01T08:59:00Z", true},
		{"fall: closes at 04:00 EST", `{days: [sun], from: "01:00", to: "04:00", time_zone: America/New_York}`, "2026-11-01T09:00:00Z", false},
		{"fall: a window ending in the repeated hour ends the first time", `{days: [sun], from: "00:30", to: "01:30", time_zone: America/New_York}`, "2026-11-01T05:45:00Z", false},
		{"fall: and does not come back", `{days: [sun], from: "00:30", to: "01:30", time_zone: America/New_York}`, "2026-11-01T06:10:00Z", false},
		{"fall: the whole sunday lasts 25 hours", `{days: [sun], from: "00:00", to: "24:00", time_zone: America/New_York}`, "2026-11-02T04:59:00Z", true},
		{"fall: and then it is monday", `{days: [sun], from: "00:00", to: "24:00", time_zone: America/New_York}`, "2026-11-02T05:00:00Z", false},
		{"one of several windows", `[{days: [sat], from: "10:00", to: "12:00"}, {days: [sun], from: "10:00", to: "12:00", time_zone: Asia/Tokyo}]`, "2026-03-08T02:00:00Z", true},
		{"none of several windows", `[{days: [sat], from: "10:00", to: "12:00"}, {days: [sun], from: "10:00", to: "12:00", time_zone: Asia/Tokyo}]`, "2026-03-08T10:00:00Z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parseOne(t, "active_time: "+tt.window)
			at := mustTime(t, tt.at)
			if got := p.ActiveAt(at); got != tt.want {
				t.Errorf("ActiveAt(%s) = %v, want %v", tt.at, got, tt.want)
			}
			// The same after the engine's JSON snapshot.
			b, _ := json.Marshal(p)
			var q Policy
			if err := json.Unmarshal(b, &q); err != nil {
				t.Fatal(err)
			}
			if got := q.ActiveAt(at); got != tt.want {
				t.Errorf("after a JSON round trip, ActiveAt(%s) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
	if p := parseOne(t, ""); !p.ActiveAt(time.Unix(0, 0)) {
		t.Error("a policy without active_time is not active")
	}
}

func TestMaintenanceAt(t *testing.T) {
	// 2026-03-08 and 2026-03-15 are Sundays.
	p := parseOne(t, `maintenance:
  - {days: [sun], from: "01:00", to: "03:00", time_zone: Asia/Tokyo}
  - {start: "2026-03-08T03:00:00+09:00", end: "2026-03-08T05:00:00+09:00"}
  - {days: [sun], from: "04:30", to: "06:00", time_zone: Asia/Tokyo}
  - {start: "2026-12-31T22:00:00+09:00", end: "2027-01-01T02:00:00+09:00"}
  - {days: [sat], from: "22:00", to: "24:00"}
  - {days: [sun], from: "09:00", to: "09:30", time_zone: Asia/Tokyo}
  - {days: [sun], from: "01:00", to: "03:00", time_zone: America/New_York}`)
	const (
		w1 = "window 1, weekly sun 01:00–03:00 Asia/Tokyo"
		w2 = "window 2, 2026-03-08T03:00:00+09:00 to 2026-03-08T05:00:00+09:00"
		w4 = "window 4, 2026-12-31T22:00:00+09:00 to 2027-01-01T02:00:00+09:00"
		w5 = "window 5, weekly sat 22:00–24:00 UTC"
		w7 = "window 7, weekly sun 01:00–03:00 America/New_York"
	)
	tests := []struct {
		name, at  string
		end, want string // want: which; "" when not in maintenance
	}{
		{"a weekly window, joined by a one-off, joined by a weekly one", "2026-03-08T01:30:00+09:00", "2026-03-08T06:00:00+09:00", w1},
		{"the same weekly window a week later, alone", "2026-03-15T01:30:00+09:00", "2026-03-15T03:00:00+09:00", w1},
		{"from the one-off on", "2026-03-08T04:00:00+09:00", "2026-03-08T06:00:00+09:00", w2},
		{"a minute before", "2026-03-08T00:59:00+09:00", "", ""},
		{"at the end of the chain", "2026-03-08T06:00:00+09:00", "", ""},
		{"a one-off over new year", "2026-12-31T23:00:00+09:00", "2027-01-01T02:00:00+09:00", w4},
		{"saturday night in UTC, then sunday morning in Tokyo", "2026-03-14T22:30:00Z", "2026-03-15T00:30:00Z", w5},
		{"the first chain, asked in UTC", "2026-03-07T16:30:00Z", "2026-03-07T21:00:00Z", w1},
		{"fall back: sunday 01:00–03:00 in New York is three hours", "2026-11-01T05:30:00Z", "2026-11-01T08:00:00Z", w7},
		{"spring forward: one hour", "2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", w7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := mustTime(t, tt.at)
			end, which, ok := p.MaintenanceAt(at)
			if ok != (tt.want != "") || which != tt.want {
				t.Fatalf("MaintenanceAt(%s) = %s, %q, %v; want %q", tt.at, end, which, ok, tt.want)
			}
			if ok && !end.Equal(mustTime(t, tt.end)) {
				t.Errorf("MaintenanceAt(%s) ends %s, want %s", tt.at, end.Format(time.RFC3339), tt.end)
			}
			if ok && end.Location() != at.Location() {
				t.Errorf("end %s is not in the location of %s", end, at)
			}
		})
	}
}

func TestMatchAt(t *testing.T) {
	const people = "people: {p: {phone: '+81 80-1234-5678'}}\nsteps: [{notify: [p], via: [{iotcall: {rule: r}}], wait: 1m}]\n"
	var all []*Policy
	for _, y := range []string{
		"name: web-business-hours\npriority: 20\nmatch: {labels: {team: web}}\n" +
			"active_time: {days: [mon, tue, wed, thu, fri], from: \"09:00\", to: \"18:00\", time_zone: Asia/Tokyo}\n" + people,
		"name: web-after-hours\npriority: 10\nmatch: {labels: {team: web}}\n" + people,
		"name: web-weekend-nights\npriority: 30\nmatch: {labels: {team: web}}\n" +
			"active_time: [{days: [fri, sat], from: \"22:00\", to: \"06:00\", time_zone: Asia/Tokyo}, {days: [sun], from: \"20:00\", to: \"24:00\", time_zone: Asia/Tokyo}]\n" + people,
	} {
		ps, err := ParseWith(testOptions, "x.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ps...)
	}
	set, err := NewSet(all)
	if err != nil {
		t.Fatal(err)
	}
	web := event(map[string]string{"team": "web"}, "critical")
	const (
		nights = "not active then: active_time is fri,sat 22:00–06:00 Asia/Tokyo (%s there), sun 20:00–24:00 Asia/Tokyo (%s there)"
		office = "not active then: active_time is mon–fri 09:00–18:00 Asia/Tokyo (%s there)"
	)
	tests := []struct {
		name, at string
		ev       alert.Event
		want     string
		explain  []Verdict
	}{
		{"monday morning: business hours", "2026-03-09T10:00:00+09:00", web, "web-business-hours", []Verdict{
			{"web-weekend-nights", false, []string{strings.ReplaceAll(nights, "%s", "mon 10:00")}},
			{"web-business-hours", true, []string{`label team = "web"`, "active_time mon–fri 09:00–18:00 Asia/Tokyo covers it (mon 10:00 there)"}},
		}},
		{"monday evening: after hours", "2026-03-09T20:00:00+09:00", web, "web-after-hours", []Verdict{
			{"web-weekend-nights", false, []string{strings.ReplaceAll(nights, "%s", "mon 20:00")}},
			{"web-business-hours", false, []string{strings.ReplaceAll(office, "%s", "mon 20:00")}},
			{"web-after-hours", true, []string{`label team = "web"`}},
		}},
		{"saturday, after midnight: friday's night", "2026-03-07T03:00:00+09:00", web, "web-weekend-nights", []Verdict{
			{"web-weekend-nights", true, []string{`label team = "web"`, "active_time fri,sat 22:00–06:00 Asia/Tokyo covers it (sat 03:00 there)"}},
		}},
		{"sunday, after midnight: saturday's night", "2026-03-08T05:59:00+09:00", web, "web-weekend-nights", nil},
		{"sunday morning: after hours", "2026-03-08T06:00:00+09:00", web, "web-after-hours", nil},
		{"sunday night, the second window", "2026-03-08T20:00:00+09:00", web, "web-weekend-nights", []Verdict{
			{"web-weekend-nights", true, []string{`label team = "web"`, "active_time sun 20:00–24:00 Asia/Tokyo covers it (sun 20:00 there)"}},
		}},
		{"another team: nothing", "2026-03-09T10:00:00+09:00", event(map[string]string{"team": "db"}, ""), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := mustTime(t, tt.at)
			p, ok := set.MatchAt(tt.ev, at)
			if got := map[bool]string{true: p.nameOrEmpty()}[ok]; got != tt.want {
				t.Fatalf("MatchAt = %q, want %q", got, tt.want)
			}
			vs := set.ExplainAt(tt.ev, at)
			if last := vs[len(vs)-1]; (last.Matched && last.Policy == tt.want) != (tt.want != "") {
				t.Errorf("ExplainAt ends with %+v, want %q", last, tt.want)
			}
			if tt.explain != nil && !reflect.DeepEqual(vs, tt.explain) {
				t.Errorf("ExplainAt:\n%+v\nwant\n%+v", vs, tt.explain)
			}
		})
	}
}

func (p *Policy) nameOrEmpty() string {
	if p == nil {
		return ""
	}
	return p.Name
}
