package dispatch

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestProviderClientsDoNotFollowRedirects: a provider's 302 to a login
// page comes back as the 302 (an error for CheckResponse), never as the
// login page's 200.
func TestProviderClientsDoNotFollowRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			_, _ = w.Write([]byte("<html>please log in</html>"))
			return
		}
		http.Redirect(w, r, "/login", http.StatusFound)
	}))
	defer srv.Close()
	resp, err := NewHTTPClient(nil, 5*time.Second).Get(srv.URL + "/pattern/r/call")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d: the redirect was followed", resp.StatusCode)
	}
	err = CheckResponse("iotcall", resp)
	if err == nil {
		t.Fatal("a 302 counted as success")
	}
	if ok, _ := IsRetryable(err); ok {
		t.Errorf("a 302 is %v, want a permanent error", err)
	}
}
