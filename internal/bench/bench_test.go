package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchSmall runs every phase of the bench at a small size, with the
// real worker process: it checks that the figures are complete and that the
// recovery after kill -9 loses nothing. Timing is printed, never asserted.
func TestBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the escalator binary")
	}
	exe := filepath.Join(t.TempDir(), "escalator")
	build := exec.Command("go", "build", "-o", exe, "../../cmd/escalator")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	r, err := Run(ctx, Config{
		Executable: exe, Policies: "../../policies", Alerts: 300, Rate: 100, LatencyFor: time.Second,
		Active: []int{150, 300}, Settle: 100 * time.Millisecond, RecoveryWait: 8 * time.Second, WorkDir: t.TempDir(), Progress: &progress,
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

	var text, js bytes.Buffer
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"raw JetStream", "escalations started", "p50 / p90 / p99 / max", "escalations lost"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Recovery == nil || back.Recovery.Due != r.Recovery.Due {
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
