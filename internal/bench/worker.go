package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // the bench worker's --pprof
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/escalator-oss/escalator/internal/app"
	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/memlimit"
)

// AlertHeader carries, on every provider request the bench's worker sends,
// the id of the alert whose escalation the request belongs to. Only the
// bench's worker adds it (through app.Config.ProviderTransport); the
// simulators read it to time each escalation's first request.
const AlertHeader = "X-Escalator-Bench-Alert"

// tagging adds AlertHeader to provider requests made inside a Dispatch.
type tagging struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper. It does not change r: a tagged
// request is a clone.
func (t tagging) RoundTrip(r *http.Request) (*http.Response, error) {
	if req, ok := dispatch.RequestFrom(r.Context()); ok && req.AlertID != "" {
		r = r.Clone(r.Context())
		r.Header.Set(AlertHeader, req.AlertID)
	}
	return t.base.RoundTrip(r)
}

// WorkerMain is the bench's worker process: `escalator bench worker`, started
// by Run, never by people. It is `escalator run` (with its soft memory limit,
// --memory-limit auto unless the bench was told otherwise) on an embedded server with
// the providers from the environment (the parent's simulators), no per-person
// cap (the example policies call the same few people for every alert) and
// provider requests tagged with AlertHeader.
func WorkerMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench worker", flag.ContinueOnError)
	cfg := app.Defaults()
	fs.StringVar(&cfg.DataDir, "data-dir", "", "")
	fs.StringVar(&cfg.NATSListen, "nats-listen", "", "")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "", "")
	fs.StringVar(&cfg.Policies, "policies", "policies", "")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "")
	pprofAddr := fs.String("pprof", "", "")
	memoryLimit := fs.String("memory-limit", "auto", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The soft memory limit escalator run sets by default (or the one
	// asked for), so that the memory measured is the binary's own.
	if _, err := memlimit.Apply(*memoryLimit, os.Getenv); err != nil {
		return err
	}
	if *pprofAddr != "" {
		// net/http/pprof registers on the default mux, which only this
		// listener serves.
		go func() { _ = http.ListenAndServe(*pprofAddr, nil) }()
	}
	cfg.MaxCallsPerPersonPerHour = 0
	cfg.ProviderTransport = tagging{base: app.ProviderTransport()}
	log, err := app.NewLogger("json", "warn")
	if err != nil {
		return err
	}
	a, err := app.New(cfg, log)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// worker is the parent's handle on a worker process.
type worker struct {
	exe, dir, policies string
	env                []string
	natsAddr, httpAddr string
	pprof              string
	memoryLimit        string
	workers            int
	cmd                *exec.Cmd
	done               chan error
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func newWorker(exe, dir, policies string, env []string) (*worker, error) {
	natsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return &worker{exe: exe, dir: dir, policies: policies, env: env, natsAddr: natsAddr, httpAddr: httpAddr}, nil
}

func (w *worker) natsURL() string { return "nats://" + w.natsAddr }

// start starts the process and returns once it is ready (/readyz is 200),
// or the error that stopped it.
func (w *worker) start(ctx context.Context) error {
	logf, err := os.OpenFile(filepath.Join(w.dir, "worker.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w.cmd = exec.Command(w.exe, "bench", "worker", "--data-dir", filepath.Join(w.dir, "data"),
		"--nats-listen", w.natsAddr, "--http-addr", w.httpAddr, "--policies", w.policies)
	if w.workers > 0 {
		w.cmd.Args = append(w.cmd.Args, "--workers", strconv.Itoa(w.workers))
	}
	if w.pprof != "" {
		w.cmd.Args = append(w.cmd.Args, "--pprof", w.pprof)
	}
	if w.memoryLimit != "" {
		w.cmd.Args = append(w.cmd.Args, "--memory-limit", w.memoryLimit)
	}
	w.cmd.Env = append(os.Environ(), w.env...)
	w.cmd.Stdout, w.cmd.Stderr = logf, logf
	if err := w.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start worker: %w", err)
	}
	w.done = make(chan error, 1)
	go func() { w.done <- w.cmd.Wait(); logf.Close() }()

	// Poll /readyz: the process has nothing to wait on from outside.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case err := <-w.done:
			return fmt.Errorf("worker exited before it was ready (see %s): %v", filepath.Join(w.dir, "worker.log"), err)
		case <-deadline:
			w.kill()
			return errors.New("worker not ready after 2 minutes")
		case <-ctx.Done():
			w.kill()
			return ctx.Err()
		case <-tick.C:
			resp, err := http.Get("http://" + w.httpAddr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
	}
}

func (w *worker) pid() int { return w.cmd.Process.Pid }

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (w *worker) kill() {
	_ = w.cmd.Process.Kill()
	<-w.done
}

// stop asks the process to shut down (SIGTERM) and waits for it.
func (w *worker) stop() error {
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-w.done:
		return err
	case <-time.After(30 * time.Second):
		w.kill()
		return errors.New("worker did not stop within 30s; killed")
	}
}
