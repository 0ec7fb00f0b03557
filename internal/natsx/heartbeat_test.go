package natsx

import "testing"

func TestPingNames(t *testing.T) {
	tests := []struct {
		name  string
		valid bool
	}{
		{"nightly-backup", true},
		{"etl.hourly_2", true},
		{"", false},
		{"a..b", false},
		{"a.", false},
		{".a", false},
		{"a b", false},
		{"a*", false},
		{"a>", false},
	}
	for _, tt := range tests {
		if got := ValidPingName(tt.name); got != tt.valid {
			t.Errorf("ValidPingName(%q) = %t, want %t", tt.name, got, tt.valid)
		}
		if !tt.valid {
			continue
		}
		if got, ok := PingName(PingSubject(tt.name)); !ok || got != tt.name {
			t.Errorf("PingName(PingSubject(%q)) = %q, %t", tt.name, got, ok)
		}
	}
	for _, subj := range []string{"heartbeats", "heartbeats.", "alerts.x"} {
		if name, ok := PingName(subj); ok {
			t.Errorf("PingName(%q) = %q, true; want false", subj, name)
		}
	}
}
