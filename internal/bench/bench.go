// Package bench is `escalator bench`: it measures the worker against raw
// JetStream on the same machine, in one run, and prints the figures.
//
// The worker runs as its own process (`escalator bench worker`: the real
// worker with its embedded nats-server), so that its memory and CPU are
// read from /proc apart from the load generator's, and so that it can be
// killed with SIGKILL and restarted for the recovery figure. The provider
// simulators run in the bench process, on loopback, with a configurable
// latency; they note when each escalation's first request arrives.
package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/app"
	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/memlimit"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/providers"
)

// Config is what `escalator bench` is told.
type Config struct {
	// Executable is the escalator binary to run the worker with.
	Executable string
	// Policies is the example policies' directory.
	Policies string
	// Alerts is the size of the max-rate run and of the baseline.
	Alerts int
	// Rate is the open-loop rate of the latency run, in alerts a second,
	// for LatencyFor.
	Rate       float64
	LatencyFor time.Duration
	// SimLatency delays every simulator response.
	SimLatency time.Duration
	// Active are the numbers of waiting escalations at which memory is read;
	// recovery runs with the last. Empty skips both.
	Active []int
	// Settle is how long the worker is left idle at each Active count before
	// its memory is read.
	Settle time.Duration
	// RecoveryWait replaces every step's wait in the active run (so that the
	// timers come due while the worker is down).
	RecoveryWait time.Duration
	// NoRecovery skips the kill and restart after the last Active count
	// (1,000,000 waiting would take as long again to recover).
	NoRecovery bool
	// WorkDir holds the worker's data (empty: a temporary directory, removed).
	WorkDir string
	// Workers is the worker's --workers (0: its default).
	Workers int
	// Storm is the storm phase's alerts, over StormGroups groups (0: skip).
	Storm, StormGroups int
	// Ops is how many escalations the JetStream-operations count runs
	// through a start, a step and an acknowledgement (0: skip).
	Ops int
	// Ended is how many escalations are started and resolved before the
	// worker's memory is read with them in retention (0: skip).
	Ended int
	// MemoryLimit is the worker's --memory-limit (empty: what escalator
	// run would use, ESCALATOR_MEMORY_LIMIT or auto).
	MemoryLimit string
	// PprofAddr, when set, serves the worker process's net/http/pprof there.
	PprofAddr string
	// Progress, when set, gets a line per phase.
	Progress io.Writer
}

// Report is everything one run measured.
type Report struct {
	Date    time.Time `json:"date"`
	Machine string    `json:"machine"`
	CPUs    int       `json:"cpus"`
	Go      string    `json:"go"`
	Config  struct {
		Alerts       int     `json:"alerts"`
		Rate         float64 `json:"rate"`
		LatencyFor   string  `json:"latency_for"`
		SimLatency   string  `json:"sim_latency"`
		Workers      int     `json:"workers"`
		Active       []int   `json:"active"`
		RecoveryWait string  `json:"recovery_wait"`
		NoRecovery   bool    `json:"no_recovery,omitempty"`
		Settle       string  `json:"settle"`
		Storm        int     `json:"storm"`
		StormGroups  int     `json:"storm_groups"`
		Ops          int     `json:"ops"`
		Ended        int     `json:"ended"`
	} `json:"config"`
	// Environment is what the worker inherited that changes its memory:
	// the bench sets neither, the worker runs with the binary's defaults
	// unless the bench's own environment had them.
	Environment struct {
		GOMEMLIMIT string `json:"gomemlimit"`
		GOGC       string `json:"gogc"`
		// MemoryLimit is the worker's --memory-limit; MemoryLimitBytes
		// and MemoryLimitFrom the soft limit it chose (0: none).
		MemoryLimit      string `json:"memory_limit"`
		MemoryLimitBytes int64  `json:"memory_limit_bytes"`
		MemoryLimitFrom  string `json:"memory_limit_from"`
	} `json:"environment"`
	Baseline   Baseline   `json:"baseline"`
	Throughput Throughput `json:"throughput"`
	Latency    Latency    `json:"latency"`
	Storm      *Storm     `json:"storm,omitempty"`
	Ops        *Ops       `json:"ops,omitempty"`
	Ended      *Ended     `json:"ended,omitempty"`
	Active     []Active   `json:"active,omitempty"`
	Recovery   *Recovery  `json:"recovery,omitempty"`
	// Verdicts: each target of issue 16, met, missed or not judged.
	Verdicts []Verdict `json:"verdicts"`
	Notes    []string  `json:"notes,omitempty"`
}

// Throughput is the max-rate run: Alerts published as fast as JetStream
// takes them while the worker consumes.
type Throughput struct {
	Alerts int `json:"alerts"`
	// StartedPerSec: escalations started (the "started" outcome) per second,
	// from the first publish to the last start.
	StartedPerSec float64 `json:"started_per_sec"`
	// DispatchedPerSec: first steps placed (calls accepted by a simulator)
	// per second, from the first publish to the last.
	DispatchedPerSec float64 `json:"dispatched_per_sec"`
	// Ratios of StartedPerSec to the baseline's rates.
	RatioToPublish    float64 `json:"ratio_to_publish"`
	RatioToConsumeAck float64 `json:"ratio_to_consume_ack"`
	// DispatchedRatioToPublish: DispatchedPerSec to the baseline's publish.
	DispatchedRatioToPublish float64 `json:"dispatched_ratio_to_publish"`
	// CPUSecondsPer1000 is the worker process's (worker and embedded
	// server) user+system CPU per 1,000 escalations started and placed.
	CPUSecondsPer1000 float64 `json:"cpu_seconds_per_1000"`
	// PeakRSSMiB is the worker process's peak resident memory so far.
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	Missing    int     `json:"missing"`
}

// Latency is the open-loop run: from an alert's scheduled publish time to
// the simulator receiving the first request of its escalation.
type Latency struct {
	Rate    float64 `json:"rate"`
	Alerts  int     `json:"alerts"`
	P50ms   float64 `json:"p50_ms"`
	P90ms   float64 `json:"p90_ms"`
	P99ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
	Missing int     `json:"missing"`
}

// Active is the worker's memory with that many escalations waiting on a timer.
type Active struct {
	Escalations int `json:"escalations"`
	// RSSMiB is read after Settle; FillingRSSMiB as the last first step was
	// placed (the store still caching the blocks it was writing).
	RSSMiB        float64 `json:"rss_mib"`
	FillingRSSMiB float64 `json:"filling_rss_mib"`
	// StoreMiB is the JetStream store on disk.
	StoreMiB float64 `json:"store_mib"`
	// FillSeconds: the time spent filling the worker to this count, from
	// the first publish of the phase until this count's last first step
	// was placed, without the settling at the counts before.
	FillSeconds float64 `json:"fill_seconds"`
	// Fired: escalations whose timer fired before this reading (want 0:
	// --recovery-wait shorter than the time to fill, the figure is void).
	Fired int `json:"fired_while_filling,omitempty"`
}

// Recovery is the kill-and-restart run with the last Active count.
type Recovery struct {
	Escalations int `json:"escalations"`
	// Due is how many escalations had a timer pending when the worker was
	// killed (all of them come due while it is down).
	Due int `json:"due"`
	// ReadySeconds: from starting the new process until /readyz.
	ReadySeconds float64 `json:"ready_seconds"`
	// AllFiredSeconds: from starting the new process until every due timer
	// has fired and moved its escalation on (next step placed, or exhausted).
	AllFiredSeconds float64 `json:"all_fired_seconds"`
	Lost            int     `json:"lost"`
}

func (c Config) progress(format string, a ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "bench: "+format+"\n", a...)
	}
}

// Run runs every phase and returns the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	r := &Report{Date: time.Now().UTC(), Machine: machine(), CPUs: runtime.NumCPU(), Go: runtime.Version()}
	r.Config.Alerts, r.Config.Rate, r.Config.LatencyFor = cfg.Alerts, cfg.Rate, cfg.LatencyFor.String()
	r.Config.Workers = cfg.Workers
	if r.Config.Workers == 0 {
		r.Config.Workers = app.Defaults().Workers
	}
	r.Config.SimLatency, r.Config.Active, r.Config.RecoveryWait = cfg.SimLatency.String(), cfg.Active, cfg.RecoveryWait.String()
	r.Config.NoRecovery = cfg.NoRecovery
	r.Config.Settle = cfg.Settle.String()
	r.Config.Storm, r.Config.StormGroups, r.Config.Ops, r.Config.Ended = cfg.Storm, cfg.StormGroups, cfg.Ops, cfg.Ended
	r.Environment.GOMEMLIMIT, r.Environment.GOGC = os.Getenv("GOMEMLIMIT"), os.Getenv("GOGC")
	if cfg.MemoryLimit == "" {
		cfg.MemoryLimit = cmp.Or(os.Getenv("ESCALATOR_MEMORY_LIMIT"), "auto")
	}
	// The worker runs on this machine with this environment: it chooses
	// the same.
	mem, err := memlimit.Choose(cfg.MemoryLimit, os.Getenv)
	if err != nil {
		return nil, err
	}
	r.Environment.MemoryLimit, r.Environment.MemoryLimitBytes, r.Environment.MemoryLimitFrom = cfg.MemoryLimit, mem.Bytes, mem.From
	if r.Environment.GOMEMLIMIT != "" || r.Environment.GOGC != "" {
		r.Notes = append(r.Notes, fmt.Sprintf("the worker inherited GOMEMLIMIT=%q GOGC=%q from the environment: its memory figures are not the binary's defaults",
			r.Environment.GOMEMLIMIT, r.Environment.GOGC))
	}

	dir := cfg.WorkDir
	if dir == "" {
		d, err := os.MkdirTemp("", "escalator-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	policies, err := filepath.Abs(cfg.Policies)
	if err != nil {
		return nil, err
	}
	set, err := policy.LoadWith(policy.Options{Providers: providers.Kinds()}, policies)
	if err != nil {
		return nil, fmt.Errorf("load the example policies: %w", err)
	}
	first := &firstRequests{at: map[string]time.Time{}}
	sims := app.StartSims(set, zap.NewNop(), dispatch.SimOptions{Latency: cfg.SimLatency, Observe: first.observe})
	defer sims.Close()

	// Worker 1: baseline, latency, throughput on the example policies.
	w, nc, watch, err := startWorker(ctx, cfg, filepath.Join(dir, "w1"), policies, sims.Environ())
	if err != nil {
		return nil, err
	}
	cfg.progress("baseline: %d messages", cfg.Alerts)
	if r.Baseline, err = baseline(ctx, nc, cfg.Alerts); err != nil {
		return nil, stopAll(w, nc, err)
	}
	cfg.progress("latency: %.0f alerts/s for %s", cfg.Rate, cfg.LatencyFor)
	if r.Latency, err = latencyRun(ctx, nc, watch, first, cfg.Rate, cfg.LatencyFor); err != nil {
		return nil, stopAll(w, nc, err)
	}
	cfg.progress("throughput: %d alerts at max rate", cfg.Alerts)
	if r.Throughput, err = throughputRun(ctx, nc, watch, w, cfg.Alerts); err != nil {
		return nil, stopAll(w, nc, err)
	}
	r.Throughput.RatioToPublish = r.Throughput.StartedPerSec / r.Baseline.PublishPerSec
	r.Throughput.RatioToConsumeAck = r.Throughput.StartedPerSec / r.Baseline.ConsumeAckPerSec
	r.Throughput.DispatchedRatioToPublish = r.Throughput.DispatchedPerSec / r.Baseline.PublishPerSec
	if err := stopAll(w, nc, nil); err != nil {
		return nil, err
	}

	// Each phase below on a fresh worker (and store), so that nothing left
	// by another phase is measured with it.
	if cfg.Storm > 0 {
		pol, err := policyCopy(policies, filepath.Join(dir, "policies-storm"), 0,
			map[string]string{"bench-storm.yaml": benchPolicy("storm", "group", time.Hour)})
		if err != nil {
			return nil, err
		}
		w, nc, watch, err := startWorker(ctx, cfg, filepath.Join(dir, "w-storm"), pol, sims.Environ())
		if err != nil {
			return nil, err
		}
		js, err := jetstream.New(nc)
		if err != nil {
			return nil, stopAll(w, nc, err)
		}
		cfg.progress("storm: %d alerts over %d groups at max rate", cfg.Storm, cfg.StormGroups)
		if r.Storm, err = stormRun(ctx, cfg, w, watch, js); err != nil {
			return nil, stopAll(w, nc, err)
		}
		r.Storm.RatioToConsumeAck = r.Storm.AbsorbedPerSec / r.Baseline.ConsumeAckPerSec
		if err := stopAll(w, nc, nil); err != nil {
			return nil, err
		}
	}
	if cfg.Ops > 0 {
		pol, err := policyCopy(policies, filepath.Join(dir, "policies-ops"), 0,
			map[string]string{"bench-ops.yaml": benchPolicy("ops", "", opsFirstWait(cfg.Ops), time.Hour),
				"bench-first.yaml": benchPolicy("first", "", time.Hour)})
		if err != nil {
			return nil, err
		}
		w, nc, watch, err := startWorker(ctx, cfg, filepath.Join(dir, "w-ops"), pol, sims.Environ())
		if err != nil {
			return nil, err
		}
		cfg.progress("ops: %d escalations through a start, a step and an acknowledgement", cfg.Ops)
		if r.Ops, err = opsRun(ctx, cfg, w, nc, watch, first, cfg.Ops); err != nil {
			return nil, stopAll(w, nc, err)
		}
		if err := stopAll(w, nc, nil); err != nil {
			return nil, err
		}
	}
	if cfg.Ended > 0 {
		// Every wait an hour: no second step comes before the resolve.
		pol, err := policyCopy(policies, filepath.Join(dir, "policies-ended"), time.Hour, nil)
		if err != nil {
			return nil, err
		}
		wdir := filepath.Join(dir, "w-ended")
		w, nc, watch, err := startWorker(ctx, cfg, wdir, pol, sims.Environ())
		if err != nil {
			return nil, err
		}
		cfg.progress("ended: %d escalations started and resolved", cfg.Ended)
		if r.Ended, err = endedRun(ctx, cfg, w, nc, watch, wdir, cfg.Ended); err != nil {
			return nil, stopAll(w, nc, err)
		}
		if err := stopAll(w, nc, nil); err != nil {
			return nil, err
		}
	}

	if len(cfg.Active) > 0 {
		// Worker 2, on a fresh store, with every wait set to RecoveryWait.
		short, err := shortWaits(policies, filepath.Join(dir, "policies-recovery"), cfg.RecoveryWait)
		if err != nil {
			return nil, err
		}
		if r.Active, r.Recovery, err = activeRun(ctx, cfg, filepath.Join(dir, "w2"), short, sims.Environ()); err != nil {
			return nil, err
		}
	}
	r.Verdicts = Judge(r)
	return r, nil
}

func startWorker(ctx context.Context, cfg Config, dir, policies string, env []string) (*worker, *nats.Conn, *watcher, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, err
	}
	w, err := newWorker(cfg.Executable, dir, policies, env)
	if err != nil {
		return nil, nil, nil, err
	}
	w.pprof, w.workers, w.memoryLimit = cfg.PprofAddr, cfg.Workers, cfg.MemoryLimit
	if err := w.start(ctx); err != nil {
		return nil, nil, nil, err
	}
	nc, err := nats.Connect(w.natsURL(), nats.MaxReconnects(-1))
	if err != nil {
		w.kill()
		return nil, nil, nil, err
	}
	wt, err := watch(nc)
	if err != nil {
		nc.Close()
		w.kill()
		return nil, nil, nil, err
	}
	return w, nc, wt, nil
}

func stopAll(w *worker, nc *nats.Conn, err error) error {
	nc.Close()
	if serr := w.stop(); err == nil && serr != nil {
		err = fmt.Errorf("stop worker: %w", serr)
	}
	return err
}

var waitLine = regexp.MustCompile(`(?m)^(\s*(?:- )?wait:\s*)\S+\s*$`)

// shortWaits copies the policies in dir to out with every step's wait set to d.
func shortWaits(dir, out string, d time.Duration) (string, error) {
	return policyCopy(dir, out, d, nil)
}

// policyCopy copies the policies in dir to out, with every step's wait set
// to wait (0: as they are), and adds the bench-only policies of extra (file
// name to YAML) as they are.
func policyCopy(dir, out string, wait time.Duration, extra map[string]string) (string, error) {
	if err := os.MkdirAll(out, 0o700); err != nil {
		return "", err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return "", fmt.Errorf("no policies in %s", dir)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		if wait > 0 {
			b = waitLine.ReplaceAll(b, []byte("${1}"+wait.String()))
		}
		if err := os.WriteFile(filepath.Join(out, filepath.Base(f)), b, 0o600); err != nil {
			return "", err
		}
	}
	for name, y := range extra {
		if err := os.WriteFile(filepath.Join(out, name), []byte(y), 0o600); err != nil {
			return "", err
		}
	}
	return out, nil
}

// benchPolicy is a bench-only policy: alerts labelled bench=<label> (and
// no other) go to the operations desk through the IoTCall rule the default
// policy uses, one step per wait (a step's wait is how long it waits for
// an acknowledgement before the next); groupBy, when set, is its group_by.
func benchPolicy(label, groupBy string, waits ...time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by escalator bench into its copy of the policies; not an example.\n")
	fmt.Fprintf(&b, "name: bench-%s\ndescription: escalator bench's %s phase.\npriority: 10000\n", label, label)
	fmt.Fprintf(&b, "match:\n  labels:\n    bench: %s\n", label)
	if groupBy != "" {
		fmt.Fprintf(&b, "group_by: [%s]\n", groupBy)
	}
	b.WriteString("steps:\n")
	for _, w := range waits {
		fmt.Fprintf(&b, "  - notify: [desk]\n    strategy: single\n    via:\n      - iotcall: {rule: ops-default}\n    wait: %s\n", w)
	}
	return b.String()
}

// percentile of sorted durations, in milliseconds (nearest rank).
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	i = min(max(i, 0), len(sorted)-1)
	return float64(sorted[i]) / float64(time.Millisecond)
}
