package bench

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
)

const alertSubject = "alerts.bench"

// publishRun publishes n alerts of run at rate (0: max) and waits for the
// acks; it returns each alert's scheduled time.
func publishRun(ctx context.Context, nc *nats.Conn, run string, n int, rate float64) ([]time.Time, error) {
	pub, err := newPublisher(nc)
	if err != nil {
		return nil, err
	}
	sched, err := pace(ctx, n, rate, func(i int, at time.Time) error {
		id, data := alertJSON(run, i, at)
		return pub.publish(alertSubject, id, data)
	})
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", run, err)
	}
	return sched, pub.flush(ctx)
}

// waitPlaced waits until n escalations of run have their first step placed.
func waitPlaced(ctx context.Context, w *watcher, run string, n int, timeout time.Duration) bool {
	return w.wait(ctx, timeout, func(w *watcher) bool { return w.count(run).dispatched >= n })
}

func latencyRun(ctx context.Context, nc *nats.Conn, w *watcher, first *firstRequests, rate float64, d time.Duration) (Latency, error) {
	n := int(rate * d.Seconds())
	out := Latency{Rate: rate, Alerts: n}
	sched, err := publishRun(ctx, nc, "lat", n, rate)
	if err != nil {
		return out, err
	}
	waitPlaced(ctx, w, "lat", n, 2*time.Minute)
	lat := make([]time.Duration, 0, n)
	for i, at := range sched {
		id, _ := alertJSON("lat", i, at)
		t, ok := first.get(id)
		if !ok {
			out.Missing++
			continue
		}
		lat = append(lat, t.Sub(at))
	}
	slices.Sort(lat)
	out.P50ms, out.P90ms, out.P99ms = percentile(lat, 50), percentile(lat, 90), percentile(lat, 99)
	out.MaxMs = percentile(lat, 100)
	return out, nil
}

func throughputRun(ctx context.Context, nc *nats.Conn, w *watcher, wk *worker, n int) (Throughput, error) {
	out := Throughput{Alerts: n}
	u0, err := readUsage(wk.pid())
	if err != nil {
		return out, err
	}
	start := time.Now()
	if _, err := publishRun(ctx, nc, "max", n, 0); err != nil {
		return out, err
	}
	w.wait(ctx, 5*time.Minute, func(w *watcher) bool { return w.count("max").started >= n })
	started := time.Now()
	if !waitPlaced(ctx, w, "max", n, 5*time.Minute) {
		out.Missing = n - w.counts("max").dispatched
	}
	placed := time.Now()
	u1, err := readUsage(wk.pid())
	if err != nil {
		return out, err
	}
	c := w.counts("max")
	out.StartedPerSec = float64(c.started) / started.Sub(start).Seconds()
	out.DispatchedPerSec = float64(c.dispatched) / placed.Sub(start).Seconds()
	out.CPUSecondsPer1000 = (u1.CPU - u0.CPU).Seconds() / float64(max(c.dispatched, 1)) * 1000
	out.PeakRSSMiB = mib(u1.PeakRSS)
	return out, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// activeRun fills a fresh worker with escalations waiting on their timers,
// reading its memory at each count of cfg.Active, then kills it, waits until
// every timer is due, restarts it and times the recovery.
func activeRun(ctx context.Context, cfg Config, dir, policies string, env []string) ([]Active, *Recovery, error) {
	wk, nc, w, err := startWorker(ctx, cfg, dir, policies, env)
	if err != nil {
		return nil, nil, err
	}
	var actives []Active
	total := 0
	var filling time.Duration
	for _, target := range cfg.Active {
		cfg.progress("active: filling to %d escalations", target)
		pub, err := newPublisher(nc)
		if err != nil {
			return nil, nil, stopAll(wk, nc, err)
		}
		at := time.Now()
		fillFrom := at
		for i := total; i < target; i++ {
			id, data := alertJSON("act", i, at)
			if err := pub.publish(alertSubject, id, data); err != nil {
				return nil, nil, stopAll(wk, nc, err)
			}
		}
		if err := pub.flush(ctx); err != nil {
			return nil, nil, stopAll(wk, nc, err)
		}
		// At least 200 a second, and 10 minutes.
		limit := max(10*time.Minute, time.Duration(target-total)*5*time.Millisecond)
		total = target
		if !waitPlaced(ctx, w, "act", target, limit) {
			return nil, nil, stopAll(wk, nc, fmt.Errorf("active: only %d of %d escalations placed their first step in %s",
				w.counts("act").dispatched, target, limit))
		}
		filling += time.Since(fillFrom)
		busy, err := readUsage(wk.pid())
		if err != nil {
			return nil, nil, stopAll(wk, nc, err)
		}
		// Waiting is the state measured: let the store's block caches,
		// kept while it was being filled, expire before reading again.
		cfg.progress("active: %d placed; settling for %s", target, cfg.Settle)
		if err := sleepCtx(ctx, cfg.Settle); err != nil {
			return nil, nil, stopAll(wk, nc, err)
		}
		u, err := readUsage(wk.pid())
		if err != nil {
			return nil, nil, stopAll(wk, nc, err)
		}
		cfg.progress("active: %d waiting: RSS %.0f MiB (%.0f MiB while filling, filled in %.0f s)", target, mib(u.RSS), mib(busy.RSS), filling.Seconds())
		actives = append(actives, Active{Escalations: target, RSSMiB: mib(u.RSS), FillingRSSMiB: mib(busy.RSS),
			StoreMiB: mib(dirSize(filepath.Join(dir, "data"))), FillSeconds: filling.Seconds(), Fired: w.counts("act").progressed})
		if cfg.PprofAddr != "" {
			saveProfile(cfg, "http://"+cfg.PprofAddr+"/debug/pprof/heap", filepath.Join(dir, fmt.Sprintf("heap-%d.pb.gz", target)))
		}
	}

	if cfg.NoRecovery {
		return actives, nil, stopAll(wk, nc, nil)
	}
	// Kill: the worker and its embedded server die together, as in a crash.
	w.mu.Lock()
	due := map[string]time.Time{}
	var lastStart time.Time
	for id, t := range w.started {
		if _, moved := w.progressed[id]; !moved {
			due[id] = t
			lastStart = maxTime(lastStart, t)
		}
	}
	w.mu.Unlock()
	nc.Close()
	wk.kill()
	rec := &Recovery{Escalations: total, Due: len(due)}
	// Down until the last timer is due (and a second more).
	until := lastStart.Add(cfg.RecoveryWait + time.Second)
	cfg.progress("recovery: killed with %d timers pending; down until %s", len(due), until.Format(time.TimeOnly))
	if err := sleepCtx(ctx, time.Until(until)); err != nil {
		return nil, nil, err
	}

	restart := time.Now()
	if err := wk.start(ctx); err != nil {
		return nil, nil, err
	}
	rec.ReadySeconds = time.Since(restart).Seconds()
	nc2, err := nats.Connect(wk.natsURL(), nats.MaxReconnects(-1))
	if err != nil {
		wk.kill()
		return nil, nil, err
	}
	// The outcomes published between ready and this subscription are read
	// from the stream by the watcher's replay below, so none is missed.
	w2, stopWatch, err := replayWatch(ctx, nc2, restart, due)
	if err != nil {
		return nil, nil, stopAll(wk, nc2, err)
	}
	defer stopWatch()
	ok := w2.wait(ctx, 10*time.Minute, func(x *watcher) bool { return x.count("act").progressed >= len(due) })
	w2.mu.Lock()
	var last time.Time
	for id := range due {
		t, moved := w2.progressed[id]
		if !moved {
			rec.Lost++
			continue
		}
		last = maxTime(last, t)
	}
	w2.mu.Unlock()
	if ok || rec.Lost == 0 {
		rec.AllFiredSeconds = last.Sub(restart).Seconds()
	}
	return actives, rec, stopAll(wk, nc2, nil)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// saveProfile fetches a pprof profile from the worker into file.
func saveProfile(cfg Config, url, file string) {
	resp, err := http.Get(url)
	if err != nil {
		cfg.progress("profile: %v", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		cfg.progress("profile: %v", err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		cfg.progress("profile: %v", err)
		return
	}
	cfg.progress("profile: %s", file)
}

// sleepCtx waits d (the bench paces itself in wall-clock time), or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
