package policystore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/dispatch/ccai"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

const good = `name: %s
people: {p: {phone: "+81 80-1234-5678"}}
steps: [{notify: [p], via: [{iotcall: {rule: r}}], wait: 1m}]
`

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestReloadKeepsPreviousOnFailure(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", strings.Replace(good, "%s", "a", 1))
	reg := prometheus.NewRegistry()
	t0 := time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	core, logs := observer.New(zap.InfoLevel)
	s, err := New([]string{dir}, reg, clk, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if s.Current() != nil {
		t.Fatal("Current before any load is not nil")
	}
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	first := s.Current()
	if first == nil || len(first.Policies) != 1 {
		t.Fatalf("Current = %+v", first)
	}
	if got := gauge(t, reg, "escalator_policy_last_reload_success_timestamp_seconds"); got != float64(t0.Unix()) {
		t.Errorf("last success = %v, want %v", got, t0.Unix())
	}

	write(t, dir, "b.yaml", "name: b\nsteps: [{notify: [x], via: [{iotcall: {rule: r}}], wait: 0s}]\n")
	clk.Advance(time.Minute)
	if err := s.Reload(); err == nil {
		t.Fatal("Reload of invalid files succeeded")
	}
	if s.Current() != first {
		t.Error("a failed reload replaced the policies in force")
	}
	tests := []struct {
		metric string
		want   float64
	}{
		{"escalator_policy_config_valid", 0},
		{"escalator_policies_loaded", 1},
		{"escalator_policy_last_reload_success_timestamp_seconds", float64(t0.Unix())},
	}
	for _, tt := range tests {
		t.Run(tt.metric, func(t *testing.T) {
			if got := gauge(t, reg, tt.metric); got != tt.want {
				t.Errorf("%s = %v, want %v", tt.metric, got, tt.want)
			}
		})
	}
	var problems []string
	for _, e := range logs.FilterMessage("invalid policy").All() {
		problems = append(problems, e.ContextMap()["problem"].(string))
	}
	want := []string{
		filepath.Join(dir, "b.yaml") + ":2:19: steps[0].notify[0]: undefined person \"x\" (define it under people, or in a people file)",
		filepath.Join(dir, "b.yaml") + ":2:58: steps[0].wait: must be positive",
	}
	if strings.Join(problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
}

func TestWatchReloadsOnChange(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", strings.Replace(good, "%s", "a", 1))
	clk := clock.NewFake(time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC))
	core, logs := observer.New(zap.InfoLevel)
	s, err := New([]string{dir}, prometheus.NewRegistry(), clk, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx, 10*time.Second) }()

	// Nothing changed: a poll does not reload.
	clk.WaitForWaiters(1)
	clk.Advance(10 * time.Second)
	clk.WaitForWaiters(1)
	if n := logs.FilterMessage("policies loaded").Len(); n != 1 {
		t.Errorf("loaded %d times with unchanged files, want 1", n)
	}

	// A new file is picked up at the next poll.
	write(t, dir, "b.yaml", strings.Replace(good, "%s", "b", 1))
	clk.Advance(10 * time.Second)
	clk.WaitForWaiters(1)
	if got := len(s.Current().Policies); got != 2 {
		t.Errorf("after the change %d policies are in force, want 2", got)
	}

	// A broken edit keeps the two in force.
	write(t, dir, "b.yaml", "name: b\nbogus: 1\n")
	clk.Advance(10 * time.Second)
	clk.WaitForWaiters(1)
	if got := len(s.Current().Policies); got != 2 {
		t.Errorf("after a broken edit %d policies are in force, want 2", got)
	}
	if logs.FilterMessage("invalid policy").Len() == 0 {
		t.Error("the broken edit was not logged")
	}

	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Watch returned %v, want context.Canceled", err)
	}
}

func TestMetricsRegisterOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(nil, reg, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := New(nil, reg, nil, nil); err == nil {
		t.Error("registering the metrics twice on one registry succeeded")
	}
}

// TestReloadChecksTheDeployment: a reload is validated against the worker's
// providers and IoTCall country ids, as the start is.
func TestReloadChecksTheDeployment(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", strings.Replace(good, "%s", "a", 1))
	s, err := New([]string{dir}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.SetOptions(policy.Options{Configured: map[string]bool{"iotcall": true}, Providers: provider.Kinds{iotcall.Kind{CountryIDs: map[int]int{81: 1, 972: 7}}, yemot.Kind{}, ccai.Kind{}}})
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	first := s.Current()
	tests := []struct {
		name, yaml, problem string
	}{
		{"unconfigured provider", "name: b\npeople: {q: {phone: \"+81 80-1234-5678\"}}\nsteps: [{notify: [q], via: [{yemot: {}}], wait: 1m}]\n",
			":3:30: steps[0].via[0].yemot: provider yemot is not configured on this worker"},
		{"country without an IoTCall id", "name: b\npeople: {q: {phone: \"+1 212-555-0123\"}}\nsteps: [{notify: [q], via: [{iotcall: {rule: r}}], wait: 1m}]\n",
			":3:30: steps[0].via[0].iotcall: q's number +12125550123 cannot be called through IoTCall: IoTCall has no country id configured for +1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			write(t, dir, "b.yaml", tt.yaml)
			err := s.Reload()
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "b.yaml")+tt.problem) {
				t.Fatalf("Reload = %v\nwant a problem ending %q", err, tt.problem)
			}
			if s.Current() != first {
				t.Error("a refused reload replaced the policies in force")
			}
		})
	}
	// A country the deployment maps is fine.
	write(t, dir, "b.yaml", "name: b\npeople: {q: {phone: \"+972 52-234-5678\"}}\nsteps: [{notify: [q], via: [{iotcall: {rule: r}}], wait: 1m}]\n")
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload with a mapped country: %v", err)
	}
}

// TestReloadBreakingASharedFile: people files and rosters serve every
// policy, so an edit that breaks one — a roster naming someone nobody
// defines, a people file giving a name other numbers — keeps the previous
// set of every file in force, and the metric says the files are invalid.
func TestReloadBreakingASharedFile(t *testing.T) {
	dir := t.TempDir()
	const people = "people:\n  aiko: {phone: \"+81 80-1234-5678\"}\n  kenji: {phone: \"+81 90-1111-2222\"}\n"
	const roster = "roster: db\npeople: [aiko, kenji]\nhandoff: weekly\nstart: 2026-01-05T09:00:00+09:00\n"
	const db = "name: db\nsteps: [{notify: {oncall: db}, via: [{iotcall: {rule: r}}], wait: 1m}]\n"
	const web = "name: web\nsteps: [{notify: [kenji], via: [{iotcall: {rule: r}}], wait: 1m}]\n"
	write(t, dir, "people.yaml", people)
	write(t, dir, "roster-db.yaml", roster)
	write(t, dir, "db.yaml", db)
	write(t, dir, "web.yaml", web)
	reg := prometheus.NewRegistry()
	core, logs := observer.New(zap.InfoLevel)
	s, err := New([]string{dir}, reg, nil, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	first := s.Current()
	if len(first.Policies) != 2 || len(first.Rosters) != 1 || len(first.People) != 1 {
		t.Fatalf("loaded %d policies, %d rosters, %d people files", len(first.Policies), len(first.Rosters), len(first.People))
	}
	tests := []struct {
		name, file, yaml, problem string
	}{
		{"a roster naming someone undefined", "roster-db.yaml", strings.Replace(roster, "kenji]", "kenji, yuki]", 1),
			"roster-db.yaml:2:23: people[2]: undefined person \"yuki\" (define it in a people file)"},
		{"a people file giving a name other numbers", "more-people.yaml", "people:\n  kenji: {phone: \"+81 90-9999-8888\"}\n",
			"people.yaml:3:3: people.kenji: \"kenji\" is defined with other numbers in " + filepath.Join(dir, "more-people.yaml") + ":2:3"},
		{"a roster defined twice", "roster-db2.yaml", roster,
			"roster-db2.yaml:1:9: roster: duplicate roster name \"db\" (also in " + filepath.Join(dir, "roster-db.yaml") + ":1:9)"},
		{"a people file removed", "people.yaml", "",
			"roster-db.yaml:2:10: people[0]: undefined person \"aiko\" (define it in a people file)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.yaml == "" {
				if err := os.Remove(filepath.Join(dir, tt.file)); err != nil {
					t.Fatal(err)
				}
				defer write(t, dir, tt.file, people)
			} else {
				old, _ := os.ReadFile(filepath.Join(dir, tt.file))
				write(t, dir, tt.file, tt.yaml)
				defer func() {
					if old == nil {
						os.Remove(filepath.Join(dir, tt.file))
					} else {
						write(t, dir, tt.file, string(old))
					}
				}()
			}
			logs.TakeAll()
			err := s.Reload()
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, tt.problem)) {
				t.Fatalf("Reload = %v\nwant the problem %s", err, tt.problem)
			}
			if s.Current() != first {
				t.Error("a reload that broke a shared file replaced the policies in force")
			}
			if got := gauge(t, reg, "escalator_policy_config_valid"); got != 0 {
				t.Errorf("escalator_policy_config_valid = %v, want 0", got)
			}
			if logs.FilterMessage("keeping the previous policies in force").Len() != 1 {
				t.Error("the store did not say it kept the previous policies")
			}
		})
	}
	// Repaired: the files load again.
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload of the repaired files: %v", err)
	}
	if s.Current() == first || gauge(t, reg, "escalator_policy_config_valid") != 1 {
		t.Error("the repaired files were not loaded")
	}
}
