package policy

import (
	"fmt"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/provider"
)

// benchPolicies returns n varied policies, loaded through Parse as a policy
// directory would be: exact labels, anchored regexes and severity lists in
// turn, over 50 teams and 20 services. Policy i has priority n-i, so the
// catch-all of team "payments" (the last, priority 0) is matched last.
func benchPolicies(b *testing.B, n int) *Set {
	b.Helper()
	var all []*Policy
	for i := range n {
		team := fmt.Sprintf("team-%02d", i%50)
		var match string
		switch i % 4 {
		case 0:
			match = fmt.Sprintf("{labels: {team: %s, service: svc-%02d}}", team, i%20)
		case 1:
			match = fmt.Sprintf("{labels: {team: %s}, labels_regex: {service: \"svc-%02d|api-.*\"}, severity: [critical]}", team, i%20)
		case 2:
			match = fmt.Sprintf("{labels_regex: {cluster: \"eu-west-%d\", instance: \"db-[0-9]+:5432\"}, severity: [critical, warning]}", i%7)
		default:
			match = fmt.Sprintf("{labels: {team: %s, env: prod}, severity: [warning]}", team)
		}
		if i == n-1 {
			match = "{labels: {team: payments}, labels_regex: {service: \"checkout(-.*)?\"}, severity: [critical]}"
		}
		y := fmt.Sprintf("name: p%04d\npriority: %d\nmatch: %s\npeople: {a: {phone: '+81 80-1234-5678'}}\n"+
			"steps: [{notify: [a], via: [{iotcall: {rule: r%d}}], wait: 5m}]\n", i, n-i, match, i)
		ps, err := ParseWith(testOptions, fmt.Sprintf("p%04d.yaml", i), []byte(y))
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, ps...)
	}
	set, err := NewSet(all)
	if err != nil {
		b.Fatal(err)
	}
	return set
}

// BenchmarkMatch1000 matches realistic alerts against 1,000 policies: one
// that only the last policy takes, and one that none takes (every policy is
// tried).
func BenchmarkMatch1000(b *testing.B) {
	set := benchPolicies(b, 1000)
	cases := []struct {
		name string
		ev   alert.Event
		want string
	}{
		{"last_matches", alert.Event{ID: "checkout-5xx", Status: alert.Firing, Severity: "critical",
			Labels: map[string]string{"alertname": "Checkout5xx", "team": "payments", "service": "checkout-eu",
				"cluster": "eu-west-9", "instance": "web-3:8080", "env": "prod", "severity": "critical"}}, "p0999"},
		{"no_match", alert.Event{ID: "disk-full", Status: alert.Firing, Severity: "info",
			Labels: map[string]string{"alertname": "DiskFull", "team": "storage", "service": "nfs",
				"cluster": "us-east-1", "instance": "nfs-1:9100", "env": "staging", "severity": "info"}}, ""},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			p, ok := set.Match(c.ev)
			if got := ""; ok && p.Name != c.want || !ok && c.want != got {
				b.Fatalf("matched %v %v, want %q", p, ok, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				set.Match(c.ev)
			}
		})
	}
}

// BenchmarkPlan measures Plan on the team policy of testdata/good (roster
// with a time zone and overrides, three steps): starting an escalation, and
// a timer moving it to the whole-roster rotation.
func BenchmarkPlan(b *testing.B) {
	set, err := LoadWith(testOptions, "testdata/good")
	if err != nil {
		b.Fatal(err)
	}
	p, _ := set.Get("team")
	t0 := time.Date(2026, 3, 8, 13, 30, 0, 0, time.UTC)
	start := Plan(p, State{}, Input{Kind: Start}, t0)
	if start.Run == nil {
		b.Fatal("start places no call")
	}
	b.Run("start", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Plan(p, State{}, Input{Kind: Start}, t0)
		}
	})
	b.Run("timer_rotation", func(b *testing.B) {
		in := Input{Kind: Timer, At: start.NextAt}
		if d := Plan(p, start.State, in, start.NextAt); d.Run == nil || d.Run.Strategy != provider.Rotation {
			b.Fatalf("timer: %+v", d.Run)
		}
		b.ReportAllocs()
		for b.Loop() {
			Plan(p, start.State, in, start.NextAt)
		}
	})
	b.Run("stale_timer", func(b *testing.B) {
		in := Input{Kind: Timer, At: t0}
		b.ReportAllocs()
		for b.Loop() {
			Plan(p, start.State, in, t0.Add(time.Minute))
		}
	})
}
