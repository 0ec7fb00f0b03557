package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/providers"
)

// TestBenchSmall runs every phase of the bench at a small size, with the
// real worker process: it checks that the figures are complete and that the
// recovery after kill -9 loses nothing. Timing is printed, never asserted.
func TestBenchSmall(t *testing.T) {
	exe := buildEscalator(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	r, err := Run(ctx, Config{
		Executable: exe, Policies: "../../policies", Alerts: 300, Rate: 100, LatencyFor: time.Second,
		Active: []int{150, 300}, Settle: 100 * time.Millisecond, RecoveryWait: 8 * time.Second, WorkDir: t.TempDir(), Progress: &progress,
		Storm: 300, StormGroups: 7, Ops: 20, Ended: 200,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	if r.Baseline.Messages != 300 || r.Baseline.PublishPerSec <= 0 || r.Baseline.ConsumeAckPerSec <= 0 {
		t.Errorf("baseline = %+v", r.Baseline)
	}
	if r.Throughput.Missing != 0 || r.Throughput.StartedPerSec <= 0 || r.Throughput.CPUSecondsPer1000 <= 0 {
		t.Errorf("throughput = %+v", r.Throughput)
	}
	if r.Latency.Alerts != 100 || r.Latency.Missing != 0 || r.Latency.MaxMs < r.Latency.P50ms {
		t.Errorf("latency = %+v", r.Latency)
	}
	if len(r.Active) != 2 || r.Active[1].Escalations != 300 || r.Active[1].RSSMiB <= 0 {
		t.Errorf("active = %+v", r.Active)
	}
	if r.Recovery == nil || r.Recovery.Lost != 0 || r.Recovery.Due == 0 || r.Recovery.Due > 300 {
		t.Errorf("recovery = %+v", r.Recovery)
	}
	for _, a := range r.Active {
		if a.Fired != 0 || a.FillSeconds <= 0 {
			t.Errorf("active = %+v", a)
		}
	}
	// The storm: exactly one escalation per group, every other alert
	// grouped, nothing left on the consumer, the worker's counts agreeing.
	if s := r.Storm; s == nil || !s.ok() || s.Started != 7 || s.Grouped != 293 || !s.MetricsOK || s.AbsorbedPerSec <= 0 {
		t.Errorf("storm = %+v", r.Storm)
	}
	if o := r.Ops; o == nil || o.Escalations != 20 || o.FirstCalls != 20 {
		t.Errorf("ops = %+v", r.Ops)
	} else {
		for name, ph := range map[string]OpsPhase{"start": o.Start, "step": o.Step, "ack": o.Ack, "before the first call": o.BeforeFirstCall,
			"until the first request": o.UntilFirstRequest} {
			// Every phase sends something: a count of 0 would mean the
			// counters were not read.
			if ph.Missing != 0 || ph.Overlapped || ph.OutPerEscalation <= 0 {
				t.Errorf("ops %s = %+v", name, ph)
			}
		}
	}
	if e := r.Ended; e == nil || e.Escalations != 200 || e.Missing != 0 || e.RSSMiB <= 0 || e.StoreMiB <= 0 {
		t.Errorf("ended = %+v", r.Ended)
	}
	if len(r.Verdicts) == 0 {
		t.Error("no verdicts")
	}

	var text, js bytes.Buffer
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"raw JetStream", "escalations started", "p50 / p90 / p99 / max", "escalations lost",
		"storm", "alerts grouped", "until the first provider request", "ended escalations in retention", "targets (issue 16)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Recovery == nil || back.Recovery.Due != r.Recovery.Due ||
		back.Storm == nil || back.Ops == nil || back.Ended == nil || len(back.Verdicts) != len(r.Verdicts) {
		t.Errorf("JSON report does not read back: %v\n%s", err, js.String())
	}
	t.Logf("\n%s", text.String())
}

func TestShortWaits(t *testing.T) {
	out, err := shortWaits("../../policies", t.TempDir(), 7*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no policies copied")
	}
	for _, f := range files {
		b, _ := readFile(f)
		for _, l := range strings.Split(b, "\n") {
			if strings.Contains(l, "wait:") && !strings.HasSuffix(l, "wait: 7s") {
				t.Errorf("%s: %q kept its wait", f, l)
			}
		}
	}
}

// TestBenchPolicies checks that the bench-only policies load with the
// example ones, and take the alerts meant for them: the storm's grouped by
// their group label.
func TestBenchPolicies(t *testing.T) {
	dir, err := policyCopy("../../policies", t.TempDir(), time.Hour, map[string]string{
		"bench-storm.yaml": benchPolicy("storm", "group", time.Hour),
		"bench-ops.yaml":   benchPolicy("ops", "", opsFirstWait(10), time.Hour),
		"bench-first.yaml": benchPolicy("first", "", time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	set, err := policy.LoadWith(policy.Options{Providers: providers.Kinds()}, dir)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	for _, c := range []struct {
		data    func() (string, []byte)
		policy  string
		groupBy string
	}{
		{func() (string, []byte) { return stormAlert(3, 10, at) }, "bench-storm", "group"},
		{func() (string, []byte) { return opsAlert(3, at) }, "bench-ops", ""},
		{func() (string, []byte) { return alertJSON("x", 0, at) }, "database", "cluster"},
		{func() (string, []byte) { return alertJSON("x", 2, at) }, "default", ""},
	} {
		id, data := c.data()
		ev, err := alert.Decode(data, 0)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		p, _ := set.MatchAt(ev, at)
		if p == nil || p.Name != c.policy || strings.Join(p.GroupBy, ",") != c.groupBy {
			t.Errorf("%s: matched %+v, want %s grouped by %q", id, p, c.policy, c.groupBy)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(bufio.NewScanner(strings.NewReader(`# HELP x y
escalator_nats_out_msgs_total 1.234e+06
escalator_alerts_rejected_total{reason="too big, with spaces }",source="http"} 2
escalator_alerts_rejected_total{reason="bad",source="nats"} 3
`)))
	if err != nil || m["escalator_nats_out_msgs_total"] != 1.234e6 || m["escalator_alerts_rejected_total"] != 5 {
		t.Errorf("parseMetrics = %v, %v", m, err)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct{ p, want float64 }{{50, 50}, {90, 90}, {99, 99}, {100, 100}} {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("p%.0f = %v, want %v", c.p, got, c.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("empty percentile not 0")
	}
}

func readFile(name string) (string, error) {
	b, err := os.ReadFile(name)
	return string(b), err
}

// buildEscalator builds the escalator binary for a test that runs it (one
// skipped with -short).
func buildEscalator(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the escalator binary")
	}
	exe := filepath.Join(t.TempDir(), "escalator")
	build := exec.Command("go", "build", "-o", exe, "../../cmd/escalator")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

// TestBenchWaitingWithoutRecovery: --recovery=false reads memory at each
// --active count and stops there, with no kill and no recovery figure.
func TestBenchWaitingWithoutRecovery(t *testing.T) {
	exe := buildEscalator(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	r, err := Run(ctx, Config{
		Executable: exe, Policies: "../../policies", Alerts: 100, Rate: 100, LatencyFor: time.Second,
		Active: []int{100}, Settle: 100 * time.Millisecond, RecoveryWait: time.Hour, NoRecovery: true,
		WorkDir: t.TempDir(), Progress: &progress,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	if len(r.Active) != 1 || r.Active[0].Escalations != 100 || r.Active[0].RSSMiB <= 0 || r.Active[0].StoreMiB <= 0 {
		t.Errorf("active = %+v", r.Active)
	}
	if r.Recovery != nil || strings.Contains(progress.String(), "killed") || !r.Config.NoRecovery {
		t.Errorf("recovery ran: %+v\n%s", r.Recovery, progress.String())
	}
}
