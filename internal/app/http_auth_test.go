package app

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/outcome"
)

// TestHTTPTokenGuardsEveryPath runs the real worker with a token and asks
// every path of its HTTP server: without the token, or with a wrong one,
// all but /healthz, /readyz and /metrics answer 401 and show nothing; with
// it (a bearer header) they answer. A path nobody registered is guarded
// too, so a path added later cannot be forgotten.
func TestHTTPTokenGuardsEveryPath(t *testing.T) {
	const token = "s3cret-token"
	cfg := testConfig(t, t.TempDir())
	cfg.HTTPToken = token
	a := startEngineApp(t, cfg)
	base := "http://" + a.HTTPAddr()
	client := &http.Client{Timeout: hangGuard}
	do := func(method, path, body, auth string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	bearer := "Bearer " + token

	// An escalation to read: its record holds the people's phone numbers.
	_, events := subscribeOutcomes(t, a)
	if code, body := do("POST", "/v1/alerts", `{"id":"db-down","status":"firing","labels":{"team":"db"}}`, bearer); code != http.StatusAccepted {
		t.Fatalf("POST /v1/alerts with the token: %d %s", code, body)
	}
	var id string
	for id == "" {
		select {
		case o := <-events:
			if o.Event == outcome.Started {
				id = o.EscalationID
			}
		case <-time.After(waitFor):
			t.Fatal("no escalation started")
		}
	}

	tests := []struct {
		name, method, path, body string
		// withToken is the answer with the right token.
		withToken int
	}{
		{"list escalations", "GET", "/v1/escalations", "", http.StatusOK},
		{"one escalation", "GET", "/v1/escalations/" + id, "", http.StatusOK},
		{"unknown escalation", "GET", "/v1/escalations/nope", "", http.StatusNotFound},
		{"native intake", "POST", "/v1/alerts", `{"id":"web-down","status":"firing"}`, http.StatusAccepted},
		{"ack", "POST", "/v1/alerts/db-down/ack", `{"by":"aiko"}`, http.StatusAccepted},
		{"alertmanager", "POST", "/v1/alertmanager",
			`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"DBDown"},"fingerprint":"c6b5d6e9b2f1a0d4"}]}`, http.StatusAccepted},
		{"pagerduty", "POST", "/v2/enqueue",
			`{"routing_key":"team-db","event_action":"trigger","dedup_key":"db/primary","payload":{"summary":"DB down","source":"db-1","severity":"critical"}}`, http.StatusAccepted},
		{"unregistered path", "GET", "/v1/people", "", http.StatusNotFound},
		// "/" is the console's page, open to all (console_test.go).
		{"beside the console's page", "GET", "/index.html", "", http.StatusNotFound},
		{"root, other method", "POST", "/", "", http.StatusNotFound},
		{"probe path, other method", "POST", "/healthz", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, auth := range []string{"", "Bearer wrong-token", "Basic " + "YWRtaW46d3Jvbmc="} {
				code, body := do(tt.method, tt.path, tt.body, auth)
				if code != http.StatusUnauthorized {
					t.Errorf("%s %s with auth %q: %d, want 401", tt.method, tt.path, auth, code)
				}
				for _, secret := range []string{"8012345678", "9011112222", "aiko", "kenji", token} {
					if strings.Contains(body, secret) {
						t.Errorf("%s %s with auth %q: the answer shows %q: %s", tt.method, tt.path, auth, secret, body)
					}
				}
			}
			if code, body := do(tt.method, tt.path, tt.body, bearer); code != tt.withToken {
				t.Errorf("%s %s with the token: %d %s, want %d", tt.method, tt.path, code, body, tt.withToken)
			}
		})
	}
	// With the token, the record is there to read (and is what the token
	// protects).
	if _, body := do("GET", "/v1/escalations/"+id, "", bearer); !strings.Contains(body, "8012345678") {
		t.Errorf("GET /v1/escalations/%s with the token lacks the phone number the token protects: %s", id, body)
	}

	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, body := do("GET", path, "", ""); code != http.StatusOK {
			t.Errorf("GET %s without a token: %d %s, want 200", path, code, body)
		}
	}
}

// TestHTTPAddrNeedsTokenBeyondLoopback: listening beyond loopback without a
// token is refused, with what to do, unless the operator says so.
func TestHTTPAddrNeedsTokenBeyondLoopback(t *testing.T) {
	tests := []struct {
		name, addr, token string
		insecure          bool
		// wantErr is part of the error; "" for none.
		wantErr string
	}{
		{"default", "127.0.0.1:8080", "", false, ""},
		{"loopback range", "127.0.0.2:8080", "", false, ""},
		{"localhost", "localhost:8080", "", false, ""},
		{"LOCALHOST", "LOCALHOST:8080", "", false, ""},
		{"ipv6 loopback", "[::1]:8080", "", false, ""},
		{"no http server", "", "", false, ""},
		{"every interface, no host", ":8080", "", false, `--http-addr ":8080" listens beyond loopback`},
		{"every interface, ipv4", "0.0.0.0:8080", "", false, `--http-addr "0.0.0.0:8080" listens beyond loopback`},
		{"every interface, ipv6", "[::]:8080", "", false, "listens beyond loopback"},
		{"one interface", "10.1.2.3:8080", "", false, "listens beyond loopback"},
		{"a host name", "escalator.example:8080", "", false, "listens beyond loopback"},
		{"with a token", ":8080", "t0ken", false, ""},
		{"insecure on purpose", "0.0.0.0:8080", "", true, ""},
		{"not host:port", "8080", "", false, `--http-addr "8080": want host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Defaults()
			cfg.HTTPAddr, cfg.HTTPToken, cfg.HTTPInsecureNoToken = tt.addr, tt.token, tt.insecure
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q lacks %q", err, tt.wantErr)
			}
			if strings.Contains(tt.wantErr, "loopback") {
				for _, what := range []string{"--http-token", "ESCALATOR_HTTP_TOKEN", "--http-insecure-no-token", "phone numbers"} {
					if !strings.Contains(err.Error(), what) {
						t.Errorf("error %q does not say %q", err, what)
					}
				}
			}
		})
	}
	// New refuses it too: the worker does not start.
	cfg := Defaults()
	cfg.HTTPAddr = ":8080"
	if _, err := New(cfg, nil); err == nil {
		t.Error("New accepted an open API beyond loopback")
	}
}
