package app

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/escalator-oss/escalator/internal/console"
	"github.com/escalator-oss/escalator/internal/httpauth"
)

// listenHTTP takes the HTTP server's address. Its error is one line that
// names the address and the reason: "listen http 127.0.0.1:8080: address
// already in use".
func listenHTTP(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen http %s: %w", addr, listenCause(err))
	}
	return ln, nil
}

// listenCause is the reason of a net.Listen error, without the operation
// and address it repeats ("listen tcp 127.0.0.1:8080: bind: ").
func listenCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) && sys.Err != nil {
		err = sys.Err
	}
	return err
}

// newHTTPServer returns the server with timeouts that a slow or hostile
// client cannot hold open.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// registrar adds its paths to a mux (the intake, the API).
type registrar interface{ Register(*http.ServeMux) }

// routes is every HTTP path the worker serves: /healthz, /readyz and
// /metrics, open to all; the web console's page at / and its assets under
// /console/, open to all too (they hold no data: every API call the page
// makes needs the token); and those of parts. Every other path, known or
// not, requires the --http-token when one is set, whatever the part itself
// checks: the API lists people and their phone numbers, and a path added
// later is guarded before anyone has to remember it.
func (a *App) routes(parts ...registrar) http.Handler {
	guarded := http.NewServeMux()
	for _, p := range parts {
		p.Register(guarded)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !a.isReady() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: starting or stopping, NATS disconnected, or a part of the worker failed\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	page := console.Handler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET "+console.Prefix, page)
	mux.Handle("/", httpauth.Token(a.cfg.HTTPToken).Require(guarded))
	return mux
}
