// Package policystore holds the running worker's policies: it loads them,
// reloads them when asked (SIGHUP) or when the files change, keeps the
// previous policies in force when a reload fails validation, and exports
// metrics saying when the last good load was and whether the files are valid.
// A reload is all the files or none: people files and shared rosters serve
// every policy, so a problem in any file keeps the previous set of all of
// them.
package policystore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/providers"
)

// Store is the current policy set. It is safe for concurrent use.
type Store struct {
	paths []string
	opt   policy.Options
	clk   clock.Clock
	log   *zap.Logger

	cur    atomic.Pointer[policy.Set]
	mu     sync.Mutex // serialises reloads
	digest [sha256.Size]byte

	lastSuccess prometheus.Gauge
	valid       prometheus.Gauge
	loaded      prometheus.Gauge
}

// New returns a store reading paths (files or directories, as policy.Load).
// It loads nothing yet: call Reload. Metrics are registered on reg (nil: not
// registered); clk stamps reloads (nil: the real clock); log nil is a no-op.
func New(paths []string, reg prometheus.Registerer, clk clock.Clock, log *zap.Logger) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if clk == nil {
		clk = clock.Real{}
	}
	s := &Store{
		paths: append([]string(nil), paths...),
		clk:   clk,
		log:   log.With(zap.String("component", "policystore")),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "escalator_policy_last_reload_success_timestamp_seconds",
			Help: "When the policies were last loaded successfully (Unix seconds).",
		}),
		valid: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "escalator_policy_config_valid",
			Help: "1 when the policy files as last read are valid, 0 when the last reload failed.",
		}),
		loaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "escalator_policies_loaded",
			Help: "How many policies are in force.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{s.lastSuccess, s.valid, s.loaded} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register policy metrics: %w", err)
			}
		}
	}
	return s, nil
}

// SetOptions sets what every later load validates against: the
// deployment's providers (nil: every provider, with the defaults) and which
// of them it can call. Call it before the first Reload.
func (s *Store) SetOptions(opt policy.Options) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opt = opt
}

// Current returns the policies in force, or nil before the first
// successful load.
func (s *Store) Current() *policy.Set { return s.cur.Load() }

// Reload reads the files again. On success the new set replaces the
// current one; on failure every problem is logged, the previous set stays in
// force, and the error (policy.Problems for invalid files) is returned.
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, err := digest(s.paths); err == nil {
		s.digest = d
	}
	return s.reloadLocked()
}

func (s *Store) reloadLocked() error {
	opt := s.opt
	if opt.Providers == nil {
		opt.Providers = providers.Kinds()
	}
	set, err := policy.LoadWith(opt, s.paths...)
	if err != nil {
		s.valid.Set(0)
		var probs policy.Problems
		if errors.As(err, &probs) {
			for _, p := range probs {
				s.log.Error("invalid policy", zap.String("problem", p.String()))
			}
		} else {
			s.log.Error("load policies", zap.Error(err))
		}
		if s.cur.Load() != nil {
			s.log.Warn("keeping the previous policies in force", zap.Int("policies", len(s.cur.Load().Policies)))
		}
		return fmt.Errorf("load policies: %w", err)
	}
	s.cur.Store(set)
	s.valid.Set(1)
	s.loaded.Set(float64(len(set.Policies)))
	s.lastSuccess.Set(float64(s.clk.Now().UnixNano()) / float64(time.Second))
	s.log.Info("policies loaded", zap.Int("policies", len(set.Policies)), zap.Int("rosters", len(set.Rosters)),
		zap.Int("people_files", len(set.People)))
	return nil
}

// Watch polls the files every interval and reloads when their contents
// (or the set of files) change, until ctx ends. It returns ctx's error.
func (s *Store) Watch(ctx context.Context, interval time.Duration) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.clk.After(interval):
		}
		d, err := digest(s.paths)
		if err != nil {
			s.log.Warn("read policy files", zap.Error(err))
			continue
		}
		s.mu.Lock()
		if d != s.digest {
			s.digest = d
			_ = s.reloadLocked() // logged; the previous set stays
		}
		s.mu.Unlock()
	}
}

// digest hashes the names and contents of the policy files under paths.
func digest(paths []string) ([sha256.Size]byte, error) {
	h := sha256.New()
	for _, p := range paths {
		files := []string{p}
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			files, _ = filepath.Glob(filepath.Join(p, "*.y*ml"))
			sort.Strings(files)
		}
		for _, f := range files {
			fmt.Fprintf(h, "%s\x00", f)
			fh, err := os.Open(f)
			if err != nil {
				fmt.Fprintf(h, "missing\x00")
				continue
			}
			_, err = io.Copy(h, fh)
			fh.Close()
			if err != nil {
				return [sha256.Size]byte{}, fmt.Errorf("read %s: %w", f, err)
			}
		}
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out, nil
}
