package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/api"
	"github.com/escalator-oss/escalator/internal/consumer"
	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/engine"
	"github.com/escalator-oss/escalator/internal/heartbeat"
	"github.com/escalator-oss/escalator/internal/intake"
	"github.com/escalator-oss/escalator/internal/metrics"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/silence"
)

// App is one escalator worker. Create it with New, run it with Run.
type App struct {
	cfg Config
	log *zap.Logger
	reg *prometheus.Registry

	ready    atomic.Bool
	started  chan struct{}
	httpAddr string
	// httpLn is the HTTP listener once bound (a test closes it to make the
	// server fail).
	httpLn  net.Listener
	natsURL string
	nc      *nats.Conn
	js      jetstream.JetStream
	// handler receives accepted alerts: the engine, unless a test set one.
	handler consumer.Handler
	sims    *Sims
	eng     *engine.Engine
	hb      *heartbeat.Runtime
	// silences are the silences of every worker, in memory.
	silences *silence.Store
	// acknowledgers are the providers that read people's replies.
	acknowledgers map[string]dispatch.Acknowledger
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

// Heartbeats is the heartbeat monitors' runtime, once started (for the demo
// and tests: Statuses, Get; heartbeat.Ping stores a ping).
func (a *App) Heartbeats() *heartbeat.Runtime { return a.hb }

// Sims are the provider simulators when SimulateProviders is set (nil
// otherwise), once started.
func (a *App) Sims() *Sims { return a.sims }

// Run runs the worker until ctx is done or one of its parts fails, then
// shuts down in order: stop taking alerts over HTTP, let the consumers
// finish or hand back what is in flight, stop the engine's background work,
// drain and close the NATS connection, stop the embedded server. It returns
// nil after a clean shutdown on ctx, or the error that stopped the worker:
// a part that could not start, or the first part to fail while running. It
// returns only once everything it started has stopped.
func (a *App) Run(ctx context.Context) (err error) {
	log := a.log.With(zap.String("component", "app"))
	// The HTTP port first: a port in use ends Run at once, before anything
	// else has started.
	var ln net.Listener
	if a.cfg.HTTPAddr != "" {
		if ln, err = listenHTTP(a.cfg.HTTPAddr); err != nil {
			return err
		}
		// For the returns before the server owns it; closing twice is harmless.
		defer ln.Close()
		a.httpLn, a.httpAddr = ln, ln.Addr().String()
		if a.cfg.HTTPToken == "" && !loopbackOnly(a.cfg.HTTPAddr) {
			log.Warn("HTTP API OPEN TO THE NETWORK: no --http-token, and --http-insecure-no-token accepts that; "+
				"anyone who can reach it can read escalations (names, phone numbers) and post alerts", zap.String("addr", a.httpAddr))
		}
	}
	// The providers next: the policies are checked against them.
	setups, store, err := a.providers(log)
	if a.sims != nil {
		defer a.sims.Close()
	}
	if err != nil {
		return err
	}

	// Each stop below runs once: explicitly, in order, after a run; from the
	// defers, for a return on the way up.
	stopServer := func() {}
	var srv *server.Server
	if a.cfg.NATSURL == "" {
		srv, err = natsx.StartEmbedded(natsx.EmbeddedConfig{StoreDir: a.cfg.storeDir(), Listen: a.cfg.NATSListen}, a.log)
		if err != nil {
			return err
		}
		stopServer = sync.OnceFunc(func() {
			srv.Shutdown()
			srv.WaitForShutdown()
			log.Info("embedded nats-server stopped")
		})
		defer stopServer()
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
	closeNATS := sync.OnceFunc(func() { closeConn(nc, log) })
	defer closeNATS()
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
	if err := natsx.EnsureHeartbeats(ctx, js, topo); err != nil {
		return err
	}
	// The silences are in memory before any alert is taken: one made
	// before a restart still covers the alerts that come after it.
	if a.silences, err = silence.Open(ctx, js, a.cfg.MaxSilence, nil, a.log); err != nil {
		return err
	}
	if err := a.silences.Load(ctx); err != nil {
		return err
	}
	if err := a.startEngine(ctx, js, setups, store); err != nil {
		return err
	}
	closeEngine := sync.OnceFunc(a.eng.Close)
	defer closeEngine()
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
	wakeups, err := consumer.NewWakeups(consumer.WakeupsConfig{JS: js, Handler: a.eng, Topology: topo, Workers: a.cfg.Workers,
		Grace: a.cfg.ShutdownGrace, Logger: a.log})
	if err != nil {
		return err
	}
	// Heartbeat monitors: their alerts go through ALERTS like any other.
	a.hb, err = heartbeat.New(heartbeat.Config{JS: js, Policies: store.Current, Topology: topo, Token: a.cfg.HTTPToken,
		Registerer: a.reg, Logger: a.log})
	if err != nil {
		return err
	}
	var httpSrv *http.Server
	if ln != nil {
		in, err := intake.New(intake.Config{Publisher: intake.JetStreamPublisher{JS: js}, Token: a.cfg.HTTPToken,
			MaxEventSize: a.cfg.MaxAlertSize, Logger: a.log, Metrics: m})
		if err != nil {
			return err
		}
		v1, err := api.New(api.Config{Escalations: a.eng, Silences: a.silences, Quieter: a.eng, Actor: a.eng, Follower: a.eng, Policies: store.Current, Token: a.cfg.HTTPToken, Logger: a.log})
		if err != nil {
			return err
		}
		httpSrv = newHTTPServer(a.routes(in, v1, a.hb))
	}
	// Registered before the worker is ready: SIGHUP's default action would
	// end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// The parts, as actors (actors.go): the first to return stops them all,
	// in the order they are added here, each interrupt waiting until what it
	// stops has stopped.
	var g run.Group
	notReady := func() { a.ready.Store(false) }
	// The caller: ctx ending (SIGINT, SIGTERM) is a clean stop. Whichever
	// part ended first, this interrupt is the first called: the worker is
	// not ready from then on (/readyz answers 503).
	runCtx, endRun := context.WithCancel(ctx)
	defer endRun()
	g.Add(func() error {
		<-runCtx.Done()
		return nil
	}, func(err error) {
		notReady()
		if err != nil {
			log.Error("a part of the worker failed; stopping", zap.Error(err))
		} else {
			log.Info("shutting down")
		}
		endRun()
	})
	// 1. Stop taking alerts over HTTP: no new connections; requests under
	// way get ShutdownGrace to finish, then their connections are closed.
	if httpSrv != nil {
		g.Add(func() error {
			err := httpSrv.Serve(ln)
			if errors.Is(err, http.ErrServerClosed) {
				return nil // Shutdown: asked to stop
			}
			notReady()
			return fmt.Errorf("http server on %s: %w", a.httpAddr, err)
		}, func(error) {
			sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
			defer cancel()
			if err := httpSrv.Shutdown(sctx); err != nil {
				log.Warn("http shutdown: closing the requests still under way", zap.Error(err))
				_ = httpSrv.Close()
			}
		})
		log.Info("http server listening", zap.String("addr", a.httpAddr))
	}
	// 2. The consumers finish what is in flight within ShutdownGrace or hand
	// it back (Nak) for another worker or the next start.
	consumers := newStage(ctx, "consumers", a.log, notReady)
	consumers.add(&g, "alert consumer", cons.Run)
	consumers.add(&g, "wake-up consumer", wakeups.Run)
	consumers.add(&g, "heartbeat pings", a.hb.RunPings)
	consumers.add(&g, "heartbeat deadlines", a.hb.RunDeadlines)
	// 3. The engine's background work: the active count, the sweep, the
	// policy reloads.
	background := newStage(ctx, "background", a.log, notReady)
	background.add(&g, "active count", func(ctx context.Context) error {
		a.eng.ReportActive(ctx, a.reg, activeCountInterval)
		return nil
	})
	if a.cfg.EscalationRetention > 0 {
		background.add(&g, "sweeper", func(ctx context.Context) error {
			a.eng.RunSweeper(ctx, a.cfg.EscalationRetention, sweepInterval)
			return nil
		})
	}
	background.add(&g, "policy reload on SIGHUP", func(ctx context.Context) error { return a.reloadOnHUP(ctx, store, hup) })
	background.add(&g, "policy watch", func(ctx context.Context) error { return a.watchPolicyFiles(ctx, store) })
	// The silences other workers make or end.
	background.add(&g, "silences", a.silences.Run)
	if httpSrv != nil {
		// What the API's listings filter on, read once now and every ten
		// minutes (a listing reads only what changed since).
		background.add(&g, "escalations catalog", func(ctx context.Context) error {
			a.eng.RunCatalog(ctx)
			return nil
		})
	}
	// Heartbeat monitors loaded at start and after each policy reload.
	background.add(&g, "heartbeat monitors", a.hb.RunMonitors)
	// People's replies (text messages back), for providers that read them.
	for name, ack := range a.acknowledgers {
		background.add(&g, name+" replies", func(ctx context.Context) error {
			return ack.Replies(ctx, a.cfg.RepliesEvery, a.eng.HandleReply)
		})
	}

	a.ready.Store(true)
	close(a.started)
	log.Info("escalator ready")
	err = g.Run()
	// Every part has returned. Then, in order:
	// 3 (end). The engine's answer polls (in memory; people's acks remain).
	closeEngine()
	// 4. NATS drains: what is buffered is published, then the connection closes.
	closeNATS()
	// 5. The embedded server stops, last: everything above needed it.
	stopServer()
	return err
}

// closeConn drains nc and waits until it is closed (at most its drain
// timeout and a little more). Safe on a closed connection.
func closeConn(nc *nats.Conn, log *zap.Logger) {
	closed := make(chan struct{})
	var once sync.Once
	prev := nc.ClosedHandler()
	nc.SetClosedHandler(func(c *nats.Conn) {
		if prev != nil {
			prev(c)
		}
		once.Do(func() { close(closed) })
	})
	if nc.IsClosed() {
		return
	}
	if err := nc.Drain(); err != nil {
		nc.Close()
	}
	select {
	case <-closed:
		log.Info("nats connection closed")
	case <-time.After(nc.Opts.DrainTimeout + 5*time.Second):
		nc.Close()
		log.Warn("nats connection not closed after its drain timeout; closed")
	}
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
	// What this worker sends to and receives from NATS on its connection:
	// every publish (a JetStream write, a KV put, an outcome), request, ack
	// and pull request is one message out; every delivery and reply one in.
	// escalator bench counts JetStream operations per escalation with them.
	a.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "escalator_nats_out_msgs_total",
		Help: "Messages this worker sent on its NATS connection (publishes, requests, acks, pull requests).",
	}, func() float64 { return float64(nc.Stats().OutMsgs) }))
	a.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "escalator_nats_in_msgs_total",
		Help: "Messages this worker received on its NATS connection (deliveries, replies, acks from the server).",
	}, func() float64 { return float64(nc.Stats().InMsgs) }))
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
