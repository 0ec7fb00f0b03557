package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
)

// Ended is the worker's memory with escalations ended (resolved) and kept
// for --escalation-retention (30 days by default, so all of them are kept).
type Ended struct {
	Escalations int `json:"escalations"`
	// FillSeconds: from the first alert published until every escalation
	// has been resolved (each started, placed its first step, and was
	// resolved by its alert).
	FillSeconds float64 `json:"fill_seconds"`
	// IdleRSSMiB: the fresh worker after Settle idle, before any alert;
	// RSSMiB: after every escalation ended and Settle idle again.
	IdleRSSMiB float64 `json:"idle_rss_mib"`
	RSSMiB     float64 `json:"rss_mib"`
	// KiBPerEscalation: (RSSMiB - IdleRSSMiB) per ended escalation.
	KiBPerEscalation float64 `json:"kib_per_escalation"`
	IdleStoreMiB     float64 `json:"idle_store_mib"`
	StoreMiB         float64 `json:"store_mib"`
	// Missing: escalations not resolved within the phase's time.
	Missing int `json:"missing"`
}

// endedChunk is how many escalations are started before they are resolved.
const endedChunk = 5000

// endedRun starts n escalations of the example mix on a fresh worker (every
// wait long enough that no second step comes), and resolves each once its
// first step is placed, endedChunk at a time; then reads the memory after
// cfg.Settle idle.
func endedRun(ctx context.Context, cfg Config, wk *worker, nc *nats.Conn, w *watcher, dir string, n int) (*Ended, error) {
	out := &Ended{Escalations: n}
	cfg.progress("ended: idle for %s", cfg.Settle)
	if err := sleepCtx(ctx, cfg.Settle); err != nil {
		return nil, err
	}
	u0, err := readUsage(wk.pid())
	if err != nil {
		return nil, err
	}
	store := filepath.Join(dir, "data")
	out.IdleRSSMiB, out.IdleStoreMiB = mib(u0.RSS), mib(dirSize(store))
	pub, err := newPublisher(nc)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	// The time allowed: a generous floor of 200 escalations a second.
	deadline := start.Add(10*time.Minute + time.Duration(n/200)*time.Second)
	for from := 0; from < n; from += endedChunk {
		to := min(from+endedChunk, n)
		at := time.Now()
		for i := from; i < to; i++ {
			id, data := alertEvent("end", i, at, "firing")
			if err := pub.publish(alertSubject, id, data); err != nil {
				return nil, err
			}
		}
		if err := pub.flush(ctx); err != nil {
			return nil, err
		}
		if !waitPlaced(ctx, w, "end", to, time.Until(deadline)) {
			return nil, fmt.Errorf("ended: only %d of %d escalations placed their first step in %s",
				w.counts("end").dispatched, to, deadline.Sub(start).Round(time.Second))
		}
		at = time.Now()
		for i := from; i < to; i++ {
			// Its own message id: the stream would drop the firing
			// alert's id as a duplicate within its window.
			id, data := alertEvent("end", i, at, "resolved")
			if err := pub.publish(alertSubject, id+"/resolved", data); err != nil {
				return nil, err
			}
		}
		if err := pub.flush(ctx); err != nil {
			return nil, err
		}
		if to%50000 == 0 || to == n {
			cfg.progress("ended: %d started, %d resolved", to, w.counts("end").resolved)
		}
	}
	if !w.wait(ctx, time.Until(deadline), func(w *watcher) bool { return w.count("end").resolved >= n }) {
		out.Missing = n - w.counts("end").resolved
	}
	out.FillSeconds = time.Since(start).Seconds()
	cfg.progress("ended: %d ended in %.0f s; settling for %s", n-out.Missing, out.FillSeconds, cfg.Settle)
	if err := sleepCtx(ctx, cfg.Settle); err != nil {
		return nil, err
	}
	u1, err := readUsage(wk.pid())
	if err != nil {
		return nil, err
	}
	out.RSSMiB, out.StoreMiB = mib(u1.RSS), mib(dirSize(store))
	out.KiBPerEscalation = (out.RSSMiB - out.IdleRSSMiB) * 1024 / float64(max(n, 1))
	if cfg.PprofAddr != "" {
		saveProfile(cfg, "http://"+cfg.PprofAddr+"/debug/pprof/heap", filepath.Join(dir, fmt.Sprintf("heap-ended-%d.pb.gz", n)))
	}
	return out, nil
}
