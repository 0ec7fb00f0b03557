package policycmd

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func loadAlert(t *testing.T, name string) alert.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "alerts", name))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := alert.Decode(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestShippedPoliciesPassCheck(t *testing.T) {
	var out bytes.Buffer
	err := Check(&out, CheckOptions{Paths: []string{"../../policies"}, Strict: true,
		Configured: map[string]bool{"iotcall": true, "yemot": true, "ccai": true}})
	if err != nil {
		t.Fatalf("policy check policies/: %v\n%s", err, out.String())
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		opt     CheckOptions
		wantErr error
	}{
		{"check-ok", CheckOptions{Paths: []string{"testdata/policies"}}, nil},
		{"check-bad", CheckOptions{Paths: []string{"testdata/bad", "testdata/missing.yaml"}}, ErrInvalid},
		{"check-strict", CheckOptions{Paths: []string{"testdata/policies"}, Strict: true,
			Configured: map[string]bool{"iotcall": true}}, ErrInvalid},
		{"check-times", CheckOptions{Paths: []string{"testdata/policies", "testdata/times"}}, nil},
		{"check-only-heartbeats", CheckOptions{Paths: []string{"testdata/times/heartbeats.yaml"}}, nil},
		{"check-bad-times", CheckOptions{Paths: []string{"testdata/bad-times"}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Check(&out, tt.opt); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Check = %v, want %v", err, tt.wantErr)
			}
			golden(t, tt.name, out.Bytes())
		})
	}
}

func TestSimulate(t *testing.T) {
	// 2026-03-08 13:30Z: the DB roster (Asia/Tokyo, weekly from 5 January)
	// is in its ninth week.
	at := time.Date(2026, 3, 8, 13, 30, 0, 0, time.UTC)
	tests := []struct {
		name   string
		alert  string
		acked  time.Duration
		format string
	}{
		{"simulate-db-acked", "db.json", 7 * time.Minute, "text"},
		{"simulate-db-exhausted", "db.json", 0, "text"},
		{"simulate-payments", "payments.json", 0, "text"},
		{"simulate-core-json", "core.json", 4 * time.Minute, "json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Simulate(&out, SimulateOptions{Paths: []string{"testdata/policies"}, Alert: loadAlert(t, tt.alert),
				At: at, AckedAfter: tt.acked, Format: tt.format})
			if err != nil {
				t.Fatalf("Simulate: %v", err)
			}
			golden(t, tt.name, out.Bytes())
		})
	}
}

func TestSimulateTimes(t *testing.T) {
	// 2026-03-08 is a Sunday, 2026-03-09 a Monday.
	tests := []struct {
		name   string
		at     string
		acked  time.Duration
		format string
	}{
		{"simulate-web-business-hours", "2026-03-09T10:00:00+09:00", 7 * time.Minute, "text"},
		{"simulate-web-after-hours", "2026-03-09T20:00:00+09:00", 0, "text"},
		{"simulate-web-maintenance", "2026-03-08T01:30:00+09:00", 0, "text"},
		{"simulate-web-maintenance-midway", "2026-03-08T00:55:00+09:00", 0, "text"},
		// Exhausted at 01:00, in the window: no step is held, it ends.
		{"simulate-web-exhausted-in-maintenance", "2026-03-08T00:40:00+09:00", 0, "text"},
		{"simulate-web-json", "2026-03-08T01:30:00+09:00", 4 * time.Minute, "json"},
		// Acknowledged at 00:05, re-paged at 01:05: in the window until 03:00.
		{"simulate-web-repage-in-maintenance", "2026-03-08T00:00:00+09:00", 5 * time.Minute, "text"},
		{"simulate-web-business-hours-json", "2026-03-09T17:55:00+09:00", 7 * time.Minute, "json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, err := time.Parse(time.RFC3339, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err = Simulate(&out, SimulateOptions{Paths: []string{"testdata/policies", "testdata/times"}, Alert: loadAlert(t, "web.json"),
				At: at, AckedAfter: tt.acked, Format: tt.format})
			if err != nil {
				t.Fatalf("Simulate: %v", err)
			}
			golden(t, tt.name, out.Bytes())
		})
	}
}

func TestSimulateNoMatch(t *testing.T) {
	var out bytes.Buffer
	ev := alert.Event{ID: "x", Status: alert.Firing, Labels: map[string]string{"team": "web"}}
	err := Simulate(&out, SimulateOptions{Paths: []string{"testdata/policies/database.yaml"}, Alert: ev, At: time.Unix(0, 0)})
	if !errors.Is(err, ErrNoMatch) {
		t.Fatalf("Simulate = %v, want ErrNoMatch", err)
	}
	want := "no policy matches alert x\n  database: label team is \"web\", want \"db\"\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	// Out of hours, with no policy for the rest of the time.
	out.Reset()
	ev.ID, ev.Labels = "w", map[string]string{"team": "web"}
	at := time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC) // Monday 19:00 in Tokyo
	err = Simulate(&out, SimulateOptions{Paths: []string{"testdata/times/web.yaml"}, Alert: ev, At: at})
	if errors.Is(err, ErrNoMatch) {
		t.Fatalf("Simulate = %v: web-after-hours takes it", err)
	}
	out.Reset()
	ev.Labels["team"] = "db"
	err = Simulate(&out, SimulateOptions{Paths: []string{"testdata/times/web.yaml"}, Alert: ev, At: at})
	want = "no policy matches alert w\n" +
		"  web-business-hours: label team is \"db\", want \"web\"\n" +
		"  web-after-hours: label team is \"db\", want \"web\"\n"
	if !errors.Is(err, ErrNoMatch) || out.String() != want {
		t.Errorf("Simulate = %v, output %q, want %q", err, out.String(), want)
	}
}

// sharedAt is Monday 9 March 2026, 10:00 in Tokyo: the business-hours layer
// of db-primary (testdata/shared) covers its base.
var sharedAt = time.Date(2026, 3, 9, 1, 0, 0, 0, time.UTC)

func TestCheckShared(t *testing.T) {
	tests := []struct {
		name    string
		opt     CheckOptions
		wantErr error
	}{
		{"check-shared", CheckOptions{Paths: []string{"testdata/shared"}, Now: sharedAt}, nil},
		{"check-shared-holiday", CheckOptions{Paths: []string{"testdata/shared/roster-db.yaml", "testdata/shared/people.yaml"},
			Now: time.Date(2026, 3, 20, 1, 0, 0, 0, time.UTC)}, nil},
		// A bad people file or roster makes every file invalid.
		{"check-bad-shared", CheckOptions{Paths: []string{"testdata/shared", "testdata/bad-shared"}, Now: sharedAt}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Check(&out, tt.opt); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Check = %v, want %v\n%s", err, tt.wantErr, out.String())
			}
			golden(t, tt.name, out.Bytes())
		})
	}
}

func TestSimulateShared(t *testing.T) {
	tests := []struct {
		name, alert, format string
		at                  time.Time
	}{
		{"simulate-shared-db", "team-db.json", "text", sharedAt},
		{"simulate-shared-db-override", "team-db.json", "text", time.Date(2026, 3, 23, 3, 30, 0, 0, time.UTC)},
		{"simulate-shared-db-json", "team-db.json", "json", sharedAt},
		{"simulate-shared-web", "team-web.json", "text", sharedAt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Simulate(&out, SimulateOptions{Paths: []string{"testdata/shared"}, Alert: loadAlert(t, tt.alert), At: tt.at, Format: tt.format})
			if err != nil {
				t.Fatalf("Simulate: %v", err)
			}
			golden(t, tt.name, out.Bytes())
		})
	}
}

func TestOnCall(t *testing.T) {
	tests := []struct {
		name    string
		opt     OnCallOptions
		wantErr error
	}{
		{"oncall", OnCallOptions{At: sharedAt}, nil},
		{"oncall-json", OnCallOptions{At: sharedAt, Format: "json", Next: 2}, nil},
		{"oncall-roster-holiday", OnCallOptions{At: time.Date(2026, 3, 20, 1, 0, 0, 0, time.UTC), Roster: "db-primary"}, nil},
		{"oncall-policy-web", OnCallOptions{At: sharedAt, Policy: "web", Next: 1}, nil},
		{"oncall-policy-db", OnCallOptions{At: time.Date(2026, 3, 23, 3, 30, 0, 0, time.UTC), Policy: "db", Next: 1}, nil},
		{"oncall-no-roster", OnCallOptions{At: sharedAt, Roster: "nope"}, ErrNoRoster},
		{"oncall-no-policy", OnCallOptions{At: sharedAt, Policy: "nope"}, ErrNoRoster},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			tt.opt.Paths = []string{"testdata/shared"}
			if err := OnCall(&out, tt.opt); !errors.Is(err, tt.wantErr) {
				t.Fatalf("OnCall = %v, want %v\n%s", err, tt.wantErr, out.String())
			}
			golden(t, tt.name, out.Bytes())
		})
	}
}

func TestWhen(t *testing.T) {
	now := time.Date(2026, 3, 9, 1, 0, 0, 0, time.UTC) // Monday 10:00 in Tokyo
	tests := []struct {
		at   time.Time
		want string
	}{
		{now, "Mon 10:00 JST, now"},
		{now.Add(30 * time.Second), "Mon 10:00 JST, in 30s"},
		{now.Add(45 * time.Minute), "Mon 10:45 JST, in 45m"},
		{now.Add(90 * time.Minute), "Mon 11:30 JST, in 1h30m"},
		{now.Add(8 * time.Hour), "Mon 18:00 JST, in 8h"},
		{now.Add(51 * time.Hour), "Wed 13:00 JST, in 2d3h"},
		{now.Add(-49 * time.Hour), "Sat 09:00 JST, 2d1h ago"},
		{now.Add(7 * 24 * time.Hour), "Mon 16 Mar 10:00 JST, in 7d"},
	}
	for _, tt := range tests {
		if got := when(tt.at, now, "Asia/Tokyo"); got != tt.want {
			t.Errorf("when(%s) = %q, want %q", tt.at, got, tt.want)
		}
	}
}
