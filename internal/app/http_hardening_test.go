package app

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/escalator-oss/escalator/internal/intake"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
)

// Tests of the HTTP server as the worker builds it: newHTTPServer around
// routes, the intake configured as Run configures it, a real JetStream
// server. Timeouts are tested by behaviour (the server closes the
// connection), never by measuring them. Where the configured value is long
// (ReadTimeout 15s, WriteTimeout 30s, IdleTimeout 2m), the test shortens that
// one field of the real server and keeps the rest.

// hangGuard bounds every wait of these tests: reaching it means the server
// kept a connection open that it should have closed.
const hangGuard = 30 * time.Second

type httpEnv struct {
	addr string
	nc   *nats.Conn
	js   jetstream.JetStream
}

// startHTTP serves the worker's routes on loopback. shorten, when not nil,
// changes the server's limits before it starts.
func startHTTP(t *testing.T, token string, shorten func(*http.Server)) *httpEnv {
	t.Helper()
	s := natstest.RunServer(t, "")
	nc, js := natstest.Connect(t, s)
	if err := natsx.Ensure(context.Background(), js, natsx.Topology{}); err != nil {
		t.Fatal(err)
	}
	// As in Run: no MaxBody and no PublishTimeout, so the intake's defaults.
	in, err := intake.New(intake.Config{Publisher: intake.JetStreamPublisher{JS: js}, Token: token,
		MaxEventSize: Defaults().MaxAlertSize})
	if err != nil {
		t.Fatal(err)
	}
	a := &App{reg: prometheus.NewRegistry()}
	srv := newHTTPServer(a.routes(in))
	if shorten != nil {
		shorten(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-served
	})
	return &httpEnv{addr: ln.Addr().String(), nc: nc, js: js}
}

// stall makes JetStream never answer a publish on alerts.>: the stream is
// gone and a plain subscriber takes the messages without replying.
func (e *httpEnv) stall(t *testing.T) {
	t.Helper()
	if err := e.js.DeleteStream(context.Background(), natsx.StreamAlerts); err != nil {
		t.Fatal(err)
	}
	sub, err := e.nc.Subscribe("alerts.>", func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// stored returns how many events the ALERTS stream holds.
func (e *httpEnv) stored(t *testing.T) uint64 {
	t.Helper()
	s, err := e.js.Stream(context.Background(), natsx.StreamAlerts)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// dial opens a raw connection to the server.
func (e *httpEnv) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.addr, hangGuard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// drip writes p to c one byte per tick until p is written, the write fails
// (the server closed the connection) or stop is closed. The pace is the
// behaviour under test, not a wait.
func drip(c net.Conn, p string, every time.Duration, stop <-chan struct{}) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := 0; i < len(p); i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if _, err := c.Write([]byte{p[i]}); err != nil {
			return
		}
	}
}

// closedByServer reads from c until the server closes it and returns what
// it sent; it fails the test if the connection is still open at hangGuard.
func closedByServer(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(hangGuard))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open (read %q)", b)
	}
	return string(b)
}

func TestHTTPServerSetsEveryLimit(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler())
	limits := map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	}
	for name, d := range limits {
		if d <= 0 {
			t.Errorf("%s is not set: a slow client could hold a connection for ever", name)
		}
	}
	if srv.ReadHeaderTimeout > srv.ReadTimeout {
		t.Errorf("ReadHeaderTimeout %s is longer than ReadTimeout %s", srv.ReadHeaderTimeout, srv.ReadTimeout)
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes >= http.DefaultMaxHeaderBytes {
		t.Errorf("MaxHeaderBytes = %d, want a limit below the default 1 MiB", srv.MaxHeaderBytes)
	}
}

// TestHTTPSlowHeadersCutOff is a slowloris client: it sends a request's
// headers one byte at a time and never finishes them.
func TestHTTPSlowHeadersCutOff(t *testing.T) {
	e := startHTTP(t, "", func(s *http.Server) { s.ReadHeaderTimeout = 300 * time.Millisecond })
	c := e.dial(t)
	stop := make(chan struct{})
	defer close(stop)
	go drip(c, "POST /v1/alerts HTTP/1.1\r\nHost: escalator\r\nContent-Type: application/json\r\nX-Slow: "+
		strings.Repeat("a", 1000), 20*time.Millisecond, stop)
	if got := closedByServer(t, c); strings.Contains(got, "202") {
		t.Fatalf("answered a request whose headers never ended: %q", got)
	}
}

// TestHTTPSlowBodyCutOff sends complete headers, then the body one byte at a
// time: the read of the body times out, nothing is stored.
func TestHTTPSlowBodyCutOff(t *testing.T) {
	e := startHTTP(t, "", func(s *http.Server) { s.ReadTimeout = 500 * time.Millisecond })
	body := `{"id":"slow","status":"firing","summary":"` + strings.Repeat("s", 2000) + `"}`
	c := e.dial(t)
	if _, err := io.WriteString(c, "POST /v1/alerts HTTP/1.1\r\nHost: escalator\r\nContent-Type: application/json\r\n"+
		"Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go drip(c, body, 20*time.Millisecond, stop)
	if got := closedByServer(t, c); strings.Contains(got, " 202 ") {
		t.Fatalf("accepted a body that arrived too slowly: %q", got)
	}
	if n := e.stored(t); n != 0 {
		t.Fatalf("%d events stored from a body cut off", n)
	}
}

// TestHTTPIdleConnectionClosed keeps a connection open after a request.
func TestHTTPIdleConnectionClosed(t *testing.T) {
	e := startHTTP(t, "", func(s *http.Server) { s.IdleTimeout = 300 * time.Millisecond })
	c := e.dial(t)
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: escalator\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(hangGuard))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("healthz: %d, close %v", resp.StatusCode, resp.Close)
	}
	// Kept alive, then idle: the server closes it.
	rest, err := io.ReadAll(br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept an idle connection open")
	}
	if len(rest) != 0 {
		t.Fatalf("unexpected bytes on an idle connection: %q", rest)
	}
}

// TestHTTPStalledStoreAnswers503 runs the real limits unchanged: while
// JetStream does not answer, a request gets 503 with Retry-After (after the
// intake's publish timeout), not a connection held open or dropped by the
// server's WriteTimeout.
func TestHTTPStalledStoreAnswers503(t *testing.T) {
	t.Parallel()
	e := startHTTP(t, "", nil)
	e.stall(t)
	client := &http.Client{Timeout: hangGuard}
	resp, err := client.Post("http://"+e.addr+"/v1/alerts", "application/json", strings.NewReader(`{"id":"db","status":"firing"}`))
	if err != nil {
		t.Fatalf("no answer while JetStream is stalled: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("got %d (Retry-After %q) %s, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
}

// TestHTTPWriteTimeoutEndsSlowHandler shortens WriteTimeout below the
// intake's publish timeout: the response of a handler stuck on a stalled
// JetStream is not written late; the connection is closed instead.
func TestHTTPWriteTimeoutEndsSlowHandler(t *testing.T) {
	t.Parallel()
	e := startHTTP(t, "", func(s *http.Server) { s.WriteTimeout = 500 * time.Millisecond })
	e.stall(t)
	c := e.dial(t)
	body := `{"id":"db","status":"firing"}`
	if _, err := io.WriteString(c, "POST /v1/alerts HTTP/1.1\r\nHost: escalator\r\nContent-Type: application/json\r\n"+
		"Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body); err != nil {
		t.Fatal(err)
	}
	if got := closedByServer(t, c); got != "" {
		t.Fatalf("a response was written past the WriteTimeout: %q", got)
	}
}

func TestHTTPHeaderTooLarge(t *testing.T) {
	e := startHTTP(t, "", nil)
	req, _ := http.NewRequest(http.MethodPost, "http://"+e.addr+"/v1/alerts", strings.NewReader(`{"id":"x","status":"firing"}`))
	req.Header.Set("X-Big", strings.Repeat("a", 128<<10))
	resp, err := (&http.Client{Timeout: hangGuard}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("got %d, want 431", resp.StatusCode)
	}
}

// TestHTTPBodyLimitDefault posts just over the default 1 MiB body limit,
// with and without Content-Length.
func TestHTTPBodyLimitDefault(t *testing.T) {
	e := startHTTP(t, "", nil)
	one := `{"status":"firing","fingerprint":"c6b5d6e9b2f1a0d4","labels":{"alertname":"DBDown","instance":"db-1:5432"}},`
	many := strings.Repeat(one, intake.DefaultMaxBody/len(one)+1)
	body := `{"version":"4","status":"firing","alerts":[` + many[:len(many)-1] + `]}`
	for _, chunked := range []bool{false, true} {
		var r io.Reader = strings.NewReader(body)
		if chunked {
			r = io.MultiReader(r)
		}
		resp, err := (&http.Client{Timeout: hangGuard}).Post("http://"+e.addr+"/v1/alertmanager", "application/json", r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked=%v: got %d, want 413", chunked, resp.StatusCode)
		}
	}
	if n := e.stored(t); n != 0 {
		t.Fatalf("%d events stored from a body over the limit", n)
	}
}

// TestHTTPTokenGuardsIntakeOnly: with a token, the intake refuses requests
// without it (bearer and basic checked), while probes and metrics stay open.
func TestHTTPTokenGuardsIntakeOnly(t *testing.T) {
	const token = "s3cret-token"
	e := startHTTP(t, token, nil)
	base := "http://" + e.addr
	client := &http.Client{Timeout: hangGuard}
	do := func(method, path, auth string) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(`{"id":"db","status":"firing"}`))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), token) {
			t.Fatalf("%s %s echoed the token", method, path)
		}
		return resp.StatusCode
	}
	basicAuth := func(user, pass string) string {
		r, _ := http.NewRequest(http.MethodGet, base, nil)
		r.SetBasicAuth(user, pass)
		return r.Header.Get("Authorization")
	}
	tests := []struct {
		name, method, path, auth string
		code                     int
	}{
		{"no token", "POST", "/v1/alerts", "", 401},
		{"wrong bearer", "POST", "/v1/alertmanager", "Bearer nope", 401},
		{"wrong basic", "POST", "/v2/enqueue", basicAuth("pd", "nope"), 401},
		{"bearer", "POST", "/v1/alerts", "Bearer " + token, 202},
		{"basic", "POST", "/v1/alerts/db/ack", basicAuth("am", token), 202},
		{"healthz open", "GET", "/healthz", "", 200},
		{"metrics open", "GET", "/metrics", "", 200},
	}
	for _, tt := range tests {
		if got := do(tt.method, tt.path, tt.auth); got != tt.code {
			t.Errorf("%s: %s %s = %d, want %d", tt.name, tt.method, tt.path, got, tt.code)
		}
	}
	if n := e.stored(t); n != 2 {
		t.Fatalf("stored %d events, want the 2 sent with the token", n)
	}
}
