package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/api"
	"github.com/escalator-oss/escalator/internal/consumer"
	"github.com/escalator-oss/escalator/internal/engine"
	"github.com/escalator-oss/escalator/internal/intake"
	"github.com/escalator-oss/escalator/internal/metrics"
	"github.com/escalator-oss/escalator/internal/natsx"
)

// App is one escalator worker. Create it with New, run it with Run.
type App struct {
	cfg Config
	log *zap.Logger
	reg *prometheus.Registry

	ready    atomic.Bool
	started  chan struct{}
	httpAddr string
	natsURL  string
	nc       *nats.Conn
	js       jetstream.JetStream
	// handler receives accepted alerts: the engine, unless a test set one.
	handler consumer.Handler
	sims    *Sims
	eng     *engine.Engine
}

// New returns a worker for cfg. log may be nil.
func New(cfg Config, log *zap.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &App{cfg: cfg, log: log, reg: prometheus.NewRegistry(), started: make(chan struct{})}, nil
}

// Started is closed once the worker is ready: NATS connected, streams ready,
// consumer and HTTP server running.
func (a *App) Started() <-chan struct{} { return a.started }

// HTTPAddr is the HTTP server's bound address, once started.
func (a *App) HTTPAddr() string { return a.httpAddr }

// NATSURL is the embedded server's client URL (or the external one), once started.
func (a *App) NATSURL() string { return a.natsURL }

// Conn is the worker's NATS connection, once started (for the demo and
// tests; an in-process embedded server has no URL to dial).
func (a *App) Conn() *nats.Conn { return a.nc }

// Sims are the provider simulators when SimulateProviders is set (nil
// otherwise), once started.
func (a *App) Sims() *Sims { return a.sims }

// Run runs the worker until ctx is done, then shuts down in order: stop taking
// alerts over HTTP, let the consumer finish or hand back what is in flight,
// drain and close the NATS connection, stop the embedded server. It returns
// nil after a clean shutdown, or the error that stopped it.
func (a *App) Run(ctx context.Context) (err error) {
	log := a.log.With(zap.String("component", "app"))
	// The providers first: the policies are checked against them.
	setups, store, err := a.providers(log)
	if a.sims != nil {
		defer a.sims.Close()
	}
	if err != nil {
		return err
	}
	var srv *server.Server
	if a.cfg.NATSURL == "" {
		srv, err = natsx.StartEmbedded(natsx.EmbeddedConfig{StoreDir: a.cfg.storeDir(), Listen: a.cfg.NATSListen}, a.log)
		if err != nil {
			return err
		}
		// Last to stop: everything above still needs it while shutting down.
		defer func() {
			srv.Shutdown()
			srv.WaitForShutdown()
			log.Info("embedded nats-server stopped")
		}()
		a.natsURL = srv.ClientURL()
		log.Info("embedded nats-server started", zap.String("store", a.cfg.storeDir()), zap.String("listen", a.cfg.NATSListen))
	} else {
		a.natsURL = a.cfg.NATSURL
	}
	nc, err := natsx.Connect(natsx.ConnConfig{
		URL: a.cfg.NATSURL, Server: srv, CredsFile: a.cfg.NATSCreds, NKeySeedFile: a.cfg.NATSNKey,
		User: a.cfg.NATSUser, Password: a.cfg.NATSPassword, Token: a.cfg.NATSToken,
		TLSCA: a.cfg.NATSTLSCA, TLSCert: a.cfg.NATSTLSCert, TLSKey: a.cfg.NATSTLSKey,
	}, a.log)
	if err != nil {
		return err
	}
	a.nc = nc
	defer func() {
		if err := nc.Drain(); err != nil {
			nc.Close()
		}
		log.Info("nats connection closed")
	}()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	a.js = js
	m := a.registerMetrics(nc)

	topo := natsx.Topology{Replicas: a.cfg.Replicas, DuplicateWindow: a.cfg.DuplicateWindow}
	if err := a.ensure(ctx, js, topo); err != nil {
		return err
	}

	if err := natsx.EnsureEngine(ctx, js, topo); err != nil {
		return err
	}
	if err := a.startEngine(ctx, js, setups, store); err != nil {
		return err
	}
	handler := a.handler
	if handler == nil {
		handler = a.eng
	}
	cons, err := consumer.New(consumer.Config{
		JS: js, Handler: handler, Workers: a.cfg.Workers, MaxEventSize: a.cfg.MaxAlertSize,
		Topology: topo, Grace: a.cfg.ShutdownGrace, Logger: a.log, Metrics: m,
	})
	if err != nil {
		return err
	}

	var httpSrv *http.Server
	if a.cfg.HTTPAddr != "" {
		in, err := intake.New(intake.Config{Publisher: intake.JetStreamPublisher{JS: js}, Token: a.cfg.HTTPToken,
			MaxEventSize: a.cfg.MaxAlertSize, Logger: a.log, Metrics: m})
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("listen http: %w", err)
		}
		a.httpAddr = ln.Addr().String()
		v1, err := api.New(api.Config{Escalations: a.eng, Token: a.cfg.HTTPToken, Logger: a.log})
		if err != nil {
			return err
		}
		httpSrv = newHTTPServer(a.routes(in, v1))
		go func() {
			if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server", zap.Error(err))
			}
		}()
		log.Info("http server listening", zap.String("addr", a.httpAddr))
	}

	timers, err := consumer.NewWakeups(consumer.WakeupsConfig{JS: js, Handler: a.eng, Topology: topo, Workers: a.cfg.Workers,
		Grace: a.cfg.ShutdownGrace, Logger: a.log})
	if err != nil {
		return err
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	a.watchPolicies(watchCtx, store)
	go a.eng.ReportActive(watchCtx, a.reg, activeCountInterval)
	if a.cfg.EscalationRetention > 0 {
		go a.eng.RunSweeper(watchCtx, a.cfg.EscalationRetention, sweepInterval)
	}

	consCtx, stopCons := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	consErr := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := cons.Run(consCtx); err != nil {
			consErr <- fmt.Errorf("alert consumer: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := timers.Run(consCtx); err != nil {
			consErr <- fmt.Errorf("timer consumer: %w", err)
		}
	}()
	a.ready.Store(true)
	close(a.started)
	log.Info("escalator ready")

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-consErr:
		log.Error("consumer stopped", zap.Error(runErr))
	}
	a.ready.Store(false)
	// 1. Stop taking new alerts over HTTP; requests under way may finish.
	if httpSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
		if err := httpSrv.Shutdown(sctx); err != nil {
			log.Warn("http shutdown", zap.Error(err))
		}
		cancel()
	}
	// 2. The consumers finish or hand back (Nak) what is in flight.
	stopCons()
	wg.Wait()
	// The engine's answer polls are in memory; people's acks remain.
	if a.eng != nil {
		a.eng.Close()
	}
	// 3 and 4 (deferred): drain NATS, then stop the embedded server.
	return runErr
}

// activeCountInterval is how often the active escalations are counted for
// the escalator_escalations_active gauge (the records changed since the
// last count; every record every 10 minutes).
const activeCountInterval = 30 * time.Second

// sweepInterval is how often ended escalations past --escalation-retention
// are removed (two full reads of the bucket).
const sweepInterval = time.Hour

// ensure creates the streams, retrying while an external cluster is not yet
// reachable.
func (a *App) ensure(ctx context.Context, js jetstream.JetStream, topo natsx.Topology) error {
	delay := 500 * time.Millisecond
	for {
		ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := natsx.Ensure(ectx, js, topo)
		cancel()
		if err == nil {
			return nil
		}
		a.log.Warn("streams not ready yet; retrying", zap.Error(err), zap.Duration("in", delay))
		select {
		case <-ctx.Done():
			return fmt.Errorf("ensure streams: %w", err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
	}
}

func (a *App) registerMetrics(nc *nats.Conn) *metrics.Alerts {
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "escalator_nats_connected", Help: "1 when the NATS connection is up, 0 otherwise.",
	}, func() float64 {
		if nc.IsConnected() {
			return 1
		}
		return 0
	}))
	a.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "escalator_ready", Help: "1 when the worker is ready (NATS connected, streams ready).",
	}, func() float64 {
		if a.isReady() {
			return 1
		}
		return 0
	}))
	return metrics.NewAlerts(a.reg)
}

func (a *App) isReady() bool { return a.ready.Load() && a.nc != nil && a.nc.IsConnected() }
