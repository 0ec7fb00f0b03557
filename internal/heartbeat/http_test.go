package heartbeat

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/natsx"
)

// serve serves rt's paths as the worker does, behind token.
func serve(t *testing.T, rt *Runtime, token string) *httptest.Server {
	t.Helper()
	rt.cfg.Token = token
	mux := http.NewServeMux()
	rt.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, method, url, token string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader("ignored"))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// POST /v1/heartbeats/{name} stores a ping (202) that the runtime applies;
// an unknown name is 404 and stores nothing; GET lists the monitors with
// their state; every path wants the token.
func TestHTTP(t *testing.T) {
	t.Parallel()
	g := newRig(t, monitor("backup", time.Hour), monitor("etl", time.Hour))
	w := g.start(nil, all)
	srv := serve(t, w.rt, "s3cret")
	g.waitState("backup", "loaded", func(*record) bool { return true })
	g.waitState("etl", "loaded", func(*record) bool { return true })

	for _, p := range []struct{ method, path string }{
		{"POST", "/v1/heartbeats/backup"}, {"GET", "/v1/heartbeats"}, {"GET", "/v1/heartbeats/backup"},
	} {
		if code, _, _ := call(t, p.method, srv.URL+p.path, ""); code != http.StatusUnauthorized {
			t.Errorf("%s %s without the token: %d, want 401", p.method, p.path, code)
		}
	}

	code, _, body := call(t, "POST", srv.URL+"/v1/heartbeats/nope", "s3cret")
	if code != http.StatusNotFound || !strings.Contains(body, `no heartbeat monitor named \"nope\" is in force`) {
		t.Errorf("ping of an unknown monitor: %d %s, want 404 naming it", code, body)
	}
	if n := counter(w.rt.m.rejected.WithLabelValues(ReasonUnknown)); n != 1 {
		t.Errorf("escalator_heartbeats_pings_rejected_total = %v, want 1", n)
	}

	code, _, body = call(t, "POST", srv.URL+"/v1/heartbeats/backup", "s3cret")
	if code != http.StatusAccepted || strings.TrimSpace(body) != `{"heartbeat":"backup","status":"accepted"}` {
		t.Fatalf("ping: %d %s, want 202 accepted", code, body)
	}
	rec := g.waitState("backup", "pinged", func(r *record) bool { return !r.LastPing.IsZero() })
	g.handled(natsx.StreamHeartbeats, natsx.ConsumerHeartbeats) // the 404 stored nothing to dead-letter
	if n := counter(w.rt.m.rejected.WithLabelValues(ReasonUnknown)); n != 1 {
		t.Errorf("escalator_heartbeats_pings_rejected_total = %v after the runtime took every ping, want 1", n)
	}

	code, _, body = call(t, "GET", srv.URL+"/v1/heartbeats", "s3cret")
	var list struct{ Heartbeats []Status }
	if err := json.Unmarshal([]byte(body), &list); code != http.StatusOK || err != nil {
		t.Fatalf("list: %d %s (%v)", code, body, err)
	}
	if len(list.Heartbeats) != 2 {
		t.Fatalf("list: %s, want two monitors", body)
	}
	b, e := list.Heartbeats[0], list.Heartbeats[1]
	if b.Name != "backup" || b.State != StateOK || !b.LastPing.Equal(rec.LastPing) || !b.Deadline.Equal(rec.LastPing.Add(time.Hour)) ||
		b.AlertID != "heartbeat/backup" || b.Every != "1h0m0s" || b.Labels["team"] != "db" {
		t.Errorf("backup: %+v, want ok, pinged at %s, deadline an hour later", b, rec.LastPing)
	}
	if e.Name != "etl" || e.State != StateWaiting || !e.LastPing.IsZero() {
		t.Errorf("etl: %+v, want waiting, never pinged", e)
	}
	if !strings.Contains(body, `"state":"waiting"`) || strings.Contains(body, `"last_ping":"0001`) {
		t.Errorf("list JSON: %s (a zero time shown?)", body)
	}

	code, _, body = call(t, "GET", srv.URL+"/v1/heartbeats/backup", "s3cret")
	if code != http.StatusOK || !strings.Contains(body, `"state":"ok"`) {
		t.Errorf("get: %d %s", code, body)
	}
	if code, _, _ = call(t, "GET", srv.URL+"/v1/heartbeats/nope", "s3cret"); code != http.StatusNotFound {
		t.Errorf("get of an unknown monitor: %d, want 404", code)
	}
}

// A ping JetStream could not store is answered 503 with Retry-After, never 202.
func TestHTTPPingNotStored(t *testing.T) {
	t.Parallel()
	g := newRig(t, monitor("backup", time.Hour))
	w := g.start(nil, 0) // serves HTTP only
	srv := serve(t, w.rt, "")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := g.js.DeleteStream(ctx, natsx.StreamHeartbeats); err != nil {
		t.Fatal(err)
	}
	code, h, body := call(t, "POST", srv.URL+"/v1/heartbeats/backup", "")
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" ||
		!strings.Contains(body, "could not store the ping in JetStream; retry") {
		t.Errorf("ping with no stream: %d %v %s, want 503 with Retry-After", code, h, body)
	}
}
