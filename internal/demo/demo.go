// Package demo is `escalator demo`: the real worker on an embedded,
// in-process NATS server in a temporary directory, the provider simulators
// on loopback and the demo policies embedded in the binary. It publishes a
// few sample alerts and prints, live, what happens: the matched policy, each
// call with its provider and the numbers the simulators rang, an IoTCall
// outage falling back to Yemot, a rotation, an acknowledgement and a
// resolution, an acknowledgement by text message, a silence made over the
// HTTP API, and a heartbeat monitor that misses its job. No network beyond
// loopback; nothing is left behind.
package demo

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/app"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/outcome"
)

//go:embed policies/*.yaml
var policies embed.FS

// DefaultTimeout bounds the whole scenario.
const DefaultTimeout = time.Minute

// Options configure Run.
type Options struct {
	// Out receives the narration (required).
	Out io.Writer
	// Timeout bounds the scenario (0: DefaultTimeout).
	Timeout time.Duration
	// Logger receives the worker's logs (nil: none).
	Logger *zap.Logger
}

// Run runs the scripted scenario and returns nil when every expected
// outcome was seen, or an error (the timeout included).
func Run(ctx context.Context, opts Options) (err error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	dir, err := os.MkdirTemp("", "escalator-demo-")
	if err != nil {
		return fmt.Errorf("create demo directory: %w", err)
	}
	defer os.RemoveAll(dir)
	polDir := filepath.Join(dir, "policies")
	if err := writePolicies(polDir); err != nil {
		return err
	}
	cfg := app.Defaults()
	// HTTP on a loopback port of its own: the demo makes a silence over the
	// API, as an operator would.
	cfg.DataDir, cfg.NATSListen, cfg.HTTPAddr, cfg.Policies = filepath.Join(dir, "data"), "", "127.0.0.1:0", polDir
	cfg.SimulateProviders = true
	cfg.ShutdownGrace = 2 * time.Second
	// People may acknowledge by texting back; read the texts every second.
	cfg.RepliesEvery = time.Second
	cfg.Getenv = func(k string) string {
		if k == "YEMOT_SMS_ACK" {
			return "true"
		}
		return ""
	}
	a, err := app.New(cfg, opts.Logger)
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	defer func() {
		stop()
		if rerr := <-done; rerr != nil && err == nil {
			err = fmt.Errorf("stop worker: %w", rerr)
		}
	}()
	sctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	select {
	case <-a.Started():
	case rerr := <-done:
		done <- rerr // for the deferred stop
		return fmt.Errorf("start worker: %w", rerr)
	case <-sctx.Done():
		return fmt.Errorf("start worker: %w", sctx.Err())
	}
	s, err := newScript(a, opts.Out)
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.run(sctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("demo did not complete within %s: %w", opts.Timeout, err)
		}
		return err
	}
	return nil
}

func writePolicies(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write demo policies: %w", err)
	}
	return fs.WalkDir(policies, "policies", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := policies.ReadFile(path)
		if err != nil {
			return fmt.Errorf("write demo policies: %w", err)
		}
		return os.WriteFile(filepath.Join(dir, d.Name()), b, 0o600)
	})
}

// script publishes the sample alerts and narrates the outcomes.
type script struct {
	a      *app.App
	out    io.Writer
	js     jetstream.JetStream
	sub    *nats.Subscription
	events chan outcome.Outcome
	// How many simulator records were already narrated.
	iotcallSeen, yemotSeen int
}

func newScript(a *app.App, out io.Writer) (*script, error) {
	js, err := jetstream.New(a.Conn())
	if err != nil {
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	s := &script{a: a, out: out, js: js, events: make(chan outcome.Outcome, 256)}
	s.sub, err = a.Conn().Subscribe(natsx.SubjectOutcomes, func(m *nats.Msg) {
		var o outcome.Outcome
		if json.Unmarshal(m.Data, &o) == nil {
			s.events <- o
		}
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to outcomes: %w", err)
	}
	if err := a.Conn().Flush(); err != nil {
		return nil, fmt.Errorf("subscribe to outcomes: %w", err)
	}
	return s, nil
}

func (s *script) close() { _ = s.sub.Unsubscribe() }

// publish sends one alert event to alerts.demo through JetStream.
func (s *script) publish(ctx context.Context, ev map[string]any) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode alert: %w", err)
	}
	if _, err := s.js.Publish(ctx, "alerts.demo", b); err != nil {
		return fmt.Errorf("publish alert: %w", err)
	}
	return nil
}

// await narrates outcomes until one for alertID satisfies want.
func (s *script) await(ctx context.Context, what, alertID string, want func(outcome.Outcome) bool) (outcome.Outcome, error) {
	for {
		select {
		case <-ctx.Done():
			return outcome.Outcome{}, fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case o := <-s.events:
			s.narrate(o)
			if o.AlertID == alertID && want(o) {
				return o, nil
			}
		}
	}
}

func is(event string) func(outcome.Outcome) bool {
	return func(o outcome.Outcome) bool { return o.Event == event }
}
