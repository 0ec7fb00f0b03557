package app

import (
	"net/http"
	"strings"
	"testing"
)

// TestConsoleIsServedWithoutTheToken: with a token set, the web console's
// page and its assets answer without it (they hold no data), and the API
// the page calls still answers 401 without it.
func TestConsoleIsServedWithoutTheToken(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.HTTPToken = "console-token"
	a := startEngineApp(t, cfg)
	base := "http://" + a.HTTPAddr()

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / without a token: %s %s, want the page", resp.Status, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("GET /: Content-Security-Policy %q", csp)
	}
	code, body := get(t, base+"/console/app.js")
	if code != http.StatusOK || !strings.Contains(body, "/v1/events") {
		t.Errorf("GET /console/app.js without a token: %d", code)
	}
	for _, path := range []string{"/v1/escalations", "/v1/events", "/v1/silences", "/v1/oncall", "/index.html"} {
		if code, body := get(t, base+path); code != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %d %s, want 401", path, code, body)
		}
	}
}
