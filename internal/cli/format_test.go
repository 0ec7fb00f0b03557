package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/provider"
)

func TestRelative(t *testing.T) {
	now := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"now", 0, "now"},
		{"under a second", 400 * time.Millisecond, "now"},
		{"seconds ahead", 30 * time.Second, "in 30s"},
		{"minutes and seconds", 2*time.Minute + 30*time.Second, "in 2m30s"},
		{"minutes", 3 * time.Minute, "in 3m"},
		{"ten minutes and more: minutes", 12*time.Minute + 10*time.Second, "in 12m"},
		{"just short of two hours rounds", 2*time.Hour - 10*time.Millisecond, "in 2h"},
		{"hours and minutes", 90 * time.Minute, "in 1h30m"},
		{"days", 50 * time.Hour, "in 2d2h"},
		{"past", -12 * time.Minute, "12m ago"},
		{"long past", -72 * time.Hour, "3d ago"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Relative(now.Add(tt.d), now); got != tt.want {
				t.Fatalf("Relative(%s) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
	if got := Relative(time.Time{}, now); got != "-" {
		t.Fatalf("Relative(zero) = %q", got)
	}
	for d, want := range map[time.Duration]string{0: "0s", 400 * time.Millisecond: "0s", 5 * time.Minute: "5m",
		90 * time.Minute: "1h30m", 150 * time.Second: "2m30s", 2 * time.Hour: "2h"} {
		if got := offset(d); got != want {
			t.Errorf("offset(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestTable: columns aligned on the text people see, colours or not, no
// trailing spaces.
func TestTable(t *testing.T) {
	for _, color := range []bool{false, true} {
		var b bytes.Buffer
		tb := &table{p: Printer{Out: &b, Color: color}}
		tb.header("CODE", "STATUS", "NOTE")
		tb.add(plain("4821"), cell{"active", red}, plain("ü"))
		tb.add(plain("12"), cell{"acknowledged", yellow}, plain(""))
		tb.flush("  ")
		got := b.String()
		if color {
			if !strings.Contains(got, "\x1b[31mactive\x1b[0m") {
				t.Fatalf("no colour:\n%q", got)
			}
			got = strings.NewReplacer("\x1b[1m", "", "\x1b[31m", "", "\x1b[33m", "", "\x1b[0m", "").Replace(got)
		} else if strings.Contains(got, "\x1b") {
			t.Fatalf("colour without Color:\n%q", got)
		}
		want := "  CODE  STATUS        NOTE\n  4821  active        ü\n  12    acknowledged\n"
		if got != want {
			t.Fatalf("color %v:\n%q\nwant\n%q", color, got, want)
		}
	}
}

func TestDescribe(t *testing.T) {
	p := Printer{Now: time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC), Loc: time.UTC}
	aiko := provider.Person{Name: "aiko", Phone: "+818012345678"}
	tests := []struct {
		o    outcome.Outcome
		want string
	}{
		{outcome.Outcome{Event: outcome.Started, Policy: "database", Summary: "primary is down"}, "policy database; primary is down"},
		{outcome.Outcome{Event: outcome.Dispatched, Provider: "iotcall", References: []string{"db-oncall"}, People: []provider.Person{aiko},
			NotCalled: []provider.Unreached{{Person: provider.Person{Name: "kenji"}, Reason: "aiko answered"}}},
			"step 1 via iotcall db-oncall: called aiko +818012345678; not kenji: aiko answered"},
		{outcome.Outcome{Event: outcome.Dispatched, Step: 1, Loop: 1, Provider: "yemot", People: []provider.Person{aiko}, InDoubt: true},
			"step 2 (round 2) via yemot: called aiko +818012345678; placed again after a worker stopped (in doubt)"},
		{outcome.Outcome{Event: outcome.Fallback, Provider: "iotcall", Next: "yemot", People: []provider.Person{aiko}, Error: "503"},
			"step 1: iotcall could not call aiko +818012345678, yemot takes over: 503"},
		{outcome.Outcome{Event: outcome.Acknowledged, By: "aiko", Via: "api", Comment: "mine"}, `by aiko via api; "mine"`},
		{outcome.Outcome{Event: outcome.Escalated, Via: "api"}, "by somebody via api; the next step runs now"},
		{outcome.Outcome{Event: outcome.Silenced, Silence: "s1", Until: time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)},
			"quiet until Mon 05:00 UTC, in 2h: silence s1"},
		{outcome.Outcome{Event: outcome.Skipped, Step: 2, Reason: "nobody on call"}, "step 3 skipped: nobody on call"},
		{outcome.Outcome{Event: outcome.Exhausted}, "every step ran and nobody acknowledged"},
	}
	for _, tt := range tests {
		if got := p.Describe(tt.o); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.o.Event, got, tt.want)
		}
	}
}
