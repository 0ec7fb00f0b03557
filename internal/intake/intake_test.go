package intake

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/metrics"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
)

type env struct {
	url string
	js  jetstream.JetStream
	m   *metrics.Alerts
}

func setup(t *testing.T, token string) *env {
	t.Helper()
	s := natstest.RunServer(t, "")
	_, js := natstest.Connect(t, s)
	if err := natsx.Ensure(context.Background(), js, natsx.Topology{}); err != nil {
		t.Fatal(err)
	}
	m := metrics.NewAlerts(prometheus.NewRegistry())
	in, err := New(Config{Publisher: JetStreamPublisher{JS: js}, Token: token, MaxBody: 8 << 10, MaxEventSize: 4 << 10,
		Metrics: m, Now: func() time.Time { return time.Date(2026, 11, 23, 3, 5, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	in.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{url: srv.URL, js: js, m: m}
}

func (e *env) post(t *testing.T, path, body string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// stored returns the events stored on subject, in order.
func (e *env) stored(t *testing.T, subject string) []alert.Event {
	t.Helper()
	ctx := context.Background()
	c, err := e.js.OrderedConsumer(ctx, natsx.StreamAlerts, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []alert.Event
	if info.NumPending == 0 {
		return nil
	}
	batch, err := c.Fetch(int(info.NumPending), jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		ev, err := alert.Decode(m.Data(), 0)
		if err != nil {
			t.Fatalf("stored event does not decode: %v", err)
		}
		out = append(out, ev)
	}
	return out
}

func TestNative(t *testing.T) {
	e := setup(t, "")
	tests := []struct {
		name, body string
		code       int
		resp       string
	}{
		{"one", `{"id":"db-primary-down","status":"firing","summary":"db down","extra":{"k":1}}`, 202,
			`{"status":"accepted","accepted":1,"duplicates":0,"ids":["db-primary-down"]}`},
		{"array", `[{"id":"a","status":"firing"},{"labels":{"alertname":"X"},"status":"resolved"}]`, 202,
			`{"status":"accepted","accepted":2,"duplicates":0,"ids":["a","` + alert.Fingerprint(map[string]string{"alertname": "X"}) + `"]}`},
		{"retry", `{"id":"db-primary-down","status":"firing","summary":"db down","extra":{"k":1}}`, 202,
			`{"status":"accepted","accepted":0,"duplicates":1,"ids":["db-primary-down"]}`},
		{"bad second", `[{"id":"b","status":"firing"},{"id":"c","status":"burning"}]`, 400,
			`{"error":"status: unknown status \"burning\": want firing, resolved or acknowledged","field":"[1].status"}`},
		{"wrong type", `{"id":"d","status":"firing","labels":["x"]}`, 400,
			`{"error":"labels: must be an object of strings, got array","field":"labels"}`},
		{"not json", `{"id":`, 400, `{"error":"not valid JSON: unexpected end of JSON input"}`},
		{"event too large", `{"id":"e","status":"firing","summary":"` + strings.Repeat("x", 5000) + `"}`, 413,
			`{"error":"event is 5041 bytes, over the limit of 4096"}`},
		{"body too large", `[` + strings.Repeat(`{"id":"f","status":"firing"},`, 400) + `{}]`, 413,
			`{"error":"request body is over the limit of 8192 bytes"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.post(t, "/v1/alerts", tt.body)
			if code != tt.code || body != tt.resp {
				t.Fatalf("got %d %s\nwant %d %s", code, body, tt.code, tt.resp)
			}
		})
	}
	got := e.stored(t, SubjectHTTP)
	if len(got) != 3 {
		t.Fatalf("stored %d events, want 3 (none from a rejected request)", len(got))
	}
	if got[0].Source != "http" || string(got[0].Extra["extra"]) != `{"k":1}` {
		t.Fatalf("first event %+v", got[0])
	}
	if v := testutil.ToFloat64(e.m.Duplicate.WithLabelValues("http")); v != 1 {
		t.Fatalf("duplicates = %v", v)
	}
}

func TestAuth(t *testing.T) {
	e := setup(t, "s3cret-token")
	ev := `{"id":"x","status":"firing"}`
	tests := []struct {
		name string
		hdr  []string
		code int
	}{
		{"none", nil, 401},
		{"wrong", []string{"Authorization", "Bearer nope"}, 401},
		{"bearer", []string{"Authorization", "Bearer s3cret-token"}, 202},
		{"basic password", []string{"Authorization", "Basic " + basic("any", "s3cret-token")}, 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.post(t, "/v1/alerts", ev, tt.hdr...)
			if code != tt.code {
				t.Fatalf("got %d %s, want %d", code, body, tt.code)
			}
			if strings.Contains(body, "s3cret-token") {
				t.Fatal("token echoed in the response")
			}
		})
	}
	if code, _ := e.post(t, "/v2/enqueue", `{}`); code != 401 {
		t.Fatalf("pagerduty without token: %d", code)
	}
}

func basic(u, p string) string {
	r, _ := http.NewRequest("GET", "http://x", nil)
	r.SetBasicAuth(u, p)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestAlertmanagerAndGrafana(t *testing.T) {
	e := setup(t, "")
	am, _ := os.ReadFile("testdata/alertmanager.json")
	code, body := e.post(t, "/v1/alertmanager", string(am))
	if code != 202 {
		t.Fatalf("alertmanager: %d %s", code, body)
	}
	// Alertmanager resends the same group: stored once.
	if code, body := e.post(t, "/v1/alertmanager", string(am)); code != 202 || !strings.Contains(body, `"duplicates":2`) {
		t.Fatalf("resend: %d %s", code, body)
	}
	got := e.stored(t, SubjectAlertmanager)
	if len(got) != 2 {
		t.Fatalf("stored %d, want 2", len(got))
	}
	want := []struct {
		id, status, summary, at string
	}{
		{"c6b5d6e9b2f1a0d4", "firing", "Postgres primary db-1 is down", "2026-11-23T03:00:00Z"},
		{"0d1e2f3a4b5c6d7e", "resolved", "Postgres replica db-2 was down", "2026-11-23T02:30:00Z"},
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.id || string(g.Status) != w.status || g.Summary != w.summary || g.At.Format(time.RFC3339) != w.at ||
			g.Severity != "critical" || g.Source != "alertmanager" || g.Labels["team"] != "dba" {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}

	gf, _ := os.ReadFile("testdata/grafana.json")
	if code, body := e.post(t, "/v1/alertmanager", string(gf)); code != 202 {
		t.Fatalf("grafana: %d %s", code, body)
	}
	g := e.stored(t, SubjectGrafana)
	if len(g) != 1 || g[0].ID != "57c6d9296de2ad39" || g[0].Source != "grafana" || g[0].Summary != "p99 latency above 2s" {
		t.Fatalf("grafana events %+v", g)
	}

	bad := strings.Replace(string(am), `"status": "resolved"`, `"status": "pending"`, 1)
	code, body = e.post(t, "/v1/alertmanager", bad)
	if code != 400 || !strings.Contains(body, `"field":"alerts[1].status"`) {
		t.Fatalf("bad alert: %d %s", code, body)
	}
}

func TestPagerDuty(t *testing.T) {
	e := setup(t, "")
	tests := []struct {
		name, body string
		code       int
		resp       string
	}{
		{"trigger", `{"routing_key":"team-db","event_action":"trigger","dedup_key":"db/primary","payload":{"summary":"DB down","source":"db-1","severity":"critical","custom_details":{"free_gb":0,"note":"disk full"}}}`,
			202, `{"status":"success","message":"Event processed","dedup_key":"db/primary"}`},
		{"acknowledge", `{"routing_key":"team-db","event_action":"acknowledge","dedup_key":"db/primary"}`,
			202, `{"status":"success","message":"Event processed","dedup_key":"db/primary"}`},
		{"invalid", `{"routing_key":"","event_action":"trigger","payload":{"summary":"","source":"x","severity":"fatal"}}`,
			400, `{"status":"invalid event","message":"Event object is invalid","errors":["'routing_key' is missing or blank","'payload.summary' is missing or blank","'payload.severity' must be one of critical, error, warning or info"]}`},
		{"resolve without key", `{"routing_key":"k","event_action":"resolve"}`,
			400, `{"status":"invalid event","message":"Event object is invalid","errors":["'dedup_key' is required for resolve events"]}`},
		{"unknown action", `{"routing_key":"k","event_action":"explode"}`,
			400, `{"status":"invalid event","message":"Event object is invalid","errors":["'event_action' must be one of trigger, acknowledge or resolve"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.post(t, "/v2/enqueue", tt.body)
			if code != tt.code || body != tt.resp {
				t.Fatalf("got %d %s\nwant %d %s", code, body, tt.code, tt.resp)
			}
		})
	}
	got := e.stored(t, SubjectPagerDuty)
	if len(got) != 2 {
		t.Fatalf("stored %d, want 2", len(got))
	}
	tr := got[0]
	if tr.ID != "db/primary" || tr.Status != alert.Firing || tr.Labels["routing_key"] != "team-db" || tr.Severity != "critical" ||
		tr.Annotations["note"] != "disk full" || tr.Annotations["free_gb"] != "0" {
		t.Fatalf("trigger event %+v", tr)
	}
	if got[1].Status != alert.Acknowledged {
		t.Fatalf("ack event %+v", got[1])
	}
	// A trigger without dedup_key gets one, as PagerDuty does.
	code, body := e.post(t, "/v2/enqueue", `{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info"}}`)
	var r pdResponse
	if code != 202 || json.Unmarshal([]byte(body), &r) != nil || len(r.DedupKey) != 32 {
		t.Fatalf("generated key: %d %s", code, body)
	}
}

func TestAck(t *testing.T) {
	e := setup(t, "")
	code, body := e.post(t, "/v1/alerts/db-primary-down/ack", `{"by":"alice"}`)
	if code != 202 {
		t.Fatalf("%d %s", code, body)
	}
	if code, _ := e.post(t, "/v1/alerts/x%00y/ack", ``); code != 400 {
		t.Fatalf("bad id: %d", code)
	}
	got := e.stored(t, SubjectHTTP)
	if len(got) != 1 || got[0].ID != "db-primary-down" || got[0].Status != alert.Acknowledged || got[0].By != "alice" ||
		got[0].At.Format(time.RFC3339) != "2026-11-23T03:05:00Z" {
		t.Fatalf("ack event %+v", got)
	}
}

func TestUnavailable(t *testing.T) {
	e := setup(t, "")
	if err := e.js.DeleteStream(context.Background(), natsx.StreamAlerts); err != nil {
		t.Fatal(err)
	}
	code, body := e.post(t, "/v1/alerts", `{"id":"x","status":"firing"}`)
	if code != 503 {
		t.Fatalf("got %d %s, want 503 when JetStream cannot store", code, body)
	}
}
