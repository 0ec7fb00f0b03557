package policy

import (
	"reflect"
	"testing"

	"github.com/escalator-oss/escalator/internal/alert"
)

func event(labels map[string]string, severity string) alert.Event {
	return alert.Event{Status: alert.Firing, Labels: labels, Severity: severity}
}

func TestMatch(t *testing.T) {
	set, err := LoadWith(testOptions, "../../policies")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		ev     alert.Event
		want   string
		reason []string
	}{
		{"db critical", event(map[string]string{"team": "db"}, "critical"), "database",
			[]string{`label team = "db"`, `severity "critical" is in [critical, warning]`}},
		{"db info falls to default", event(map[string]string{"team": "db"}, "info"), "default",
			[]string{"it matches every alert (empty match)"}},
		{"core outage wins on priority", event(map[string]string{"team": "db", "service": "core-api"}, "CRITICAL"), "core-outage",
			[]string{`label service = "core-api" matches /core-.*/`, `severity "CRITICAL" is in [critical]`}},
		{"regex is anchored", event(map[string]string{"team": "payments", "service": "xcheckout"}, ""), "default", nil},
		{"payments", event(map[string]string{"team": "payments", "service": "billing-eu"}, ""), "payments", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := set.Match(tt.ev)
			if !ok || p.Name != tt.want {
				t.Fatalf("Match = %v, %v; want %s", p, ok, tt.want)
			}
			vs := set.Explain(tt.ev)
			last := vs[len(vs)-1]
			if !last.Matched || last.Policy != tt.want {
				t.Fatalf("Explain ends with %+v", last)
			}
			if tt.reason != nil && !reflect.DeepEqual(last.Reasons, tt.reason) {
				t.Errorf("reasons = %q, want %q", last.Reasons, tt.reason)
			}
		})
	}
}

// TestMatchesAgreesWithExplain checks the fast Matches against Explain on
// every example policy and a grid of alerts.
func TestMatchesAgreesWithExplain(t *testing.T) {
	set, err := LoadWith(testOptions, "../../policies")
	if err != nil {
		t.Fatal(err)
	}
	labelSets := []map[string]string{
		nil, {"team": "db"}, {"team": "payments", "service": "checkout"}, {"team": "payments", "service": "billing-x"},
		{"service": "core-api"}, {"service": "xcore-api"}, {"team": "DB"}, {"team": "db", "service": "core-1"},
	}
	for _, p := range set.Policies {
		for _, ls := range labelSets {
			for _, sev := range []string{"", "critical", "WARNING", "info"} {
				ev := event(ls, sev)
				want, _ := p.Match.Explain(ev)
				if got := p.Match.Matches(ev); got != want {
					t.Errorf("%s on %v/%q: Matches = %v, Explain = %v", p.Name, ls, sev, got, want)
				}
			}
		}
	}
}
