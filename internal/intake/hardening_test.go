package intake

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
)

// Hardening tests of the intake endpoints: body limits, token auth and a
// store that never answers, on every endpoint. (TestNative and TestAuth
// cover /v1/alerts with a Content-Length over the limit, and bearer/basic
// on /v1/alerts.)

// intakeEndpoints are the intake's POST paths with a body each accepts.
var intakeEndpoints = []struct{ path, body string }{
	{"/v1/alerts", `{"id":"db-primary-down","status":"firing"}`},
	{"/v1/alerts/db-primary-down/ack", `{"by":"aiko"}`},
	{"/v1/alertmanager", `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"DBDown"},"fingerprint":"c6b5d6e9b2f1a0d4"}]}`},
	{"/v2/enqueue", `{"routing_key":"team-db","event_action":"trigger","dedup_key":"db/primary","payload":{"summary":"DB down","source":"db-1","severity":"critical"}}`},
}

// padded returns body with a JSON string field that makes it n bytes or more.
func padded(body string, n int) string {
	return body[:len(body)-1] + `,"pad":"` + strings.Repeat("x", n) + `"}`
}

// count returns how many alert events the ALERTS stream holds.
func (e *env) count(t *testing.T) uint64 {
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

func TestBodyLimitEveryEndpoint(t *testing.T) {
	e := setup(t, "") // MaxBody 8 KiB
	for _, ep := range intakeEndpoints {
		for _, chunked := range []bool{false, true} {
			name := ep.path
			if chunked {
				name += " chunked"
			}
			t.Run(name, func(t *testing.T) {
				body := padded(ep.body, 9<<10)
				var r io.Reader = strings.NewReader(body)
				if chunked {
					// No Content-Length: the limit holds while reading.
					r = io.MultiReader(r)
				}
				req, _ := http.NewRequest(http.MethodPost, e.url+ep.path, r)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if chunked != (req.ContentLength <= 0) {
					t.Fatalf("request sent with Content-Length %d", req.ContentLength)
				}
				if resp.StatusCode != http.StatusRequestEntityTooLarge {
					t.Fatalf("got %d %s, want 413", resp.StatusCode, b)
				}
			})
		}
	}
	if n := e.count(t); n != 0 {
		t.Fatalf("%d events stored from bodies over the limit", n)
	}
	// Just under the limit is accepted (an ack: its event stays small).
	if code, body := e.post(t, intakeEndpoints[1].path, padded(intakeEndpoints[1].body, 7<<10)); code != http.StatusAccepted {
		t.Fatalf("body under the limit: %d %s", code, body)
	}
}

func TestAuthEveryEndpoint(t *testing.T) {
	const token = "s3cret-token"
	e := setup(t, token)
	refused := []struct {
		name string
		hdr  []string
	}{
		{"none", nil},
		{"wrong bearer", []string{"Authorization", "Bearer s3cret-tokeN"}},
		{"empty bearer", []string{"Authorization", "Bearer "}},
		{"token prefix", []string{"Authorization", "Bearer s3cret"}},
		{"other scheme", []string{"Authorization", "Token " + token}},
		{"raw token", []string{"Authorization", token}},
		{"wrong basic password", []string{"Authorization", "Basic " + basic("aiko", "nope")}},
		{"token as basic user", []string{"Authorization", "Basic " + basic(token, "")}},
	}
	for _, ep := range intakeEndpoints {
		for _, tt := range refused {
			t.Run(ep.path+" "+tt.name, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodPost, e.url+ep.path, strings.NewReader(ep.body))
				for i := 0; i+1 < len(tt.hdr); i += 2 {
					req.Header.Set(tt.hdr[i], tt.hdr[i+1])
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("got %d %s, want 401", resp.StatusCode, b)
				}
				if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("401 without a WWW-Authenticate challenge: %q", resp.Header.Get("WWW-Authenticate"))
				}
				if strings.Contains(string(b), token) {
					t.Fatal("token echoed in the response")
				}
			})
		}
	}
	if n := e.count(t); n != 0 {
		t.Fatalf("%d events stored without the token", n)
	}
	// The right token passes on every endpoint, the scheme in any case.
	for i, ep := range intakeEndpoints {
		hdr := []string{"Authorization", "bearer " + token}
		if i%2 == 1 {
			hdr = []string{"Authorization", "Basic " + basic("alertmanager", token)}
		}
		if code, body := e.post(t, ep.path, ep.body, hdr...); code != http.StatusAccepted {
			t.Fatalf("%s with the token: %d %s", ep.path, code, body)
		}
	}
}

// TestStalledStoreAnswers503 makes JetStream never answer: the ALERTS
// stream is gone and a plain subscriber takes alerts.> without replying,
// so every publish waits for its ack. Each endpoint must still answer, 503
// with Retry-After, once PublishTimeout has passed, and never hang.
func TestStalledStoreAnswers503(t *testing.T) {
	s := natstest.RunServer(t, "")
	nc, js := natstest.Connect(t, s)
	if err := natsx.Ensure(context.Background(), js, natsx.Topology{}); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(context.Background(), natsx.StreamAlerts); err != nil {
		t.Fatal(err)
	}
	swallowed := make(chan string, 16)
	sub, err := nc.Subscribe("alerts.>", func(m *nats.Msg) { swallowed <- m.Subject })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	in, err := New(Config{Publisher: JetStreamPublisher{JS: js}, PublishTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	in.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	// The client's own timeout only catches a hang; it is far above 300ms.
	client := &http.Client{Timeout: 30 * time.Second}
	for _, ep := range intakeEndpoints {
		t.Run(ep.path, func(t *testing.T) {
			resp, err := client.Post(srv.URL+ep.path, "application/json", strings.NewReader(ep.body))
			if err != nil {
				t.Fatalf("no answer while JetStream is stalled: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("got %d (Retry-After %q) %s, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), b)
			}
			select {
			case <-swallowed: // the publish did reach NATS and was left unanswered
			case <-time.After(10 * time.Second):
				t.Fatal("the publish never reached NATS")
			}
		})
	}
}
