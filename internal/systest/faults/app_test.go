package faults

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/app"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/systest/ledger"
)

// inProcess is a worker run in the test process with app.New.
type inProcess struct {
	app    *app.App
	cancel context.CancelFunc
	done   chan error
}

// appConfig is a worker's configuration for the suite: testdata/policies,
// the providers of s (behind their gates), no per-person cap, and provider
// requests tagged with their escalation and step, so that the ledger counts
// each call against its own step.
func (s *sims) appConfig() app.Config {
	env := s.env()
	s.tagged = true
	cfg := app.Defaults()
	cfg.Policies = policiesDir
	cfg.HTTPAddr = ""
	cfg.NATSListen = ""
	cfg.ShutdownGrace = 2 * time.Second
	cfg.MaxCallsPerPersonPerHour = 0
	cfg.Getenv = func(k string) string { return env[k] }
	cfg.ProviderTransport = ledger.Tagging(app.ProviderTransport())
	return cfg
}

// runApp starts a worker and waits until it is ready; it is stopped when
// the test ends (or by stop).
func runApp(t *testing.T, cfg app.Config) *inProcess {
	t.Helper()
	a, err := app.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &inProcess{app: a, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- a.Run(ctx) }()
	select {
	case <-a.Started():
	case err := <-p.done:
		t.Fatalf("run: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("worker not ready after a minute")
	}
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop shuts the worker down cleanly and waits for it; safe twice.
func (p *inProcess) stop(t *testing.T) {
	t.Helper()
	if p.done == nil {
		return
	}
	p.cancel()
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(time.Minute):
		t.Error("worker shutdown took over a minute")
	}
	p.done = nil
}

// ensureStreams creates the streams, consumers and buckets as a worker with
// the default configuration does.
func ensureStreams(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topo := natsx.Topology{Replicas: 1, DuplicateWindow: app.Defaults().DuplicateWindow}
	if err := natsx.Ensure(ctx, js, topo); err != nil {
		t.Fatal(err)
	}
	if err := natsx.EnsureEngine(ctx, js, topo); err != nil {
		t.Fatal(err)
	}
}
