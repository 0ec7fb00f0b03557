package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func serve(t *testing.T, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, req)
	return w.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHandler: the page at /, its assets under /console/, with their types,
// caching and security headers; everything else is not found.
func TestHandler(t *testing.T) {
	tests := []struct {
		name, method, target string
		code                 int
		ctype, cache         string
	}{
		{"the page", "GET", "/", 200, "text/html; charset=utf-8", "no-cache"},
		{"the page, HEAD", "HEAD", "/", 200, "text/html; charset=utf-8", "no-cache"},
		{"the page, with a query", "GET", "/?at=2026-11-30T10:00:00Z", 200, "text/html; charset=utf-8", "no-cache"},
		{"script, unversioned", "GET", "/console/app.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"script, versioned", "GET", "/console/app.js?v=" + load().assets["app.js"].hash, 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{"script, an old version", "GET", "/console/app.js?v=0123456789abcdef", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"style", "GET", "/console/app.css", 200, "text/css; charset=utf-8", "no-cache"},
		{"icon", "GET", "/console/icon.svg", 200, "image/svg+xml", "no-cache"},
		{"the page is not an asset", "GET", "/console/index.html", 404, "", ""},
		{"unknown asset", "GET", "/console/nope.js", 404, "", ""},
		{"outside the console", "GET", "/v1/escalations", 404, "", ""},
		{"post", "POST", "/", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := serve(t, tt.method, tt.target, nil)
			if resp.StatusCode != tt.code {
				t.Fatalf("%s %s: %d, want %d", tt.method, tt.target, resp.StatusCode, tt.code)
			}
			if got := resp.Header.Get("Content-Security-Policy"); got != CSP {
				t.Errorf("Content-Security-Policy %q", got)
			}
			for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s %q, want %q", k, got, want)
				}
			}
			if tt.code != 200 {
				return
			}
			if got := resp.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if got := resp.Header.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			b := body(t, resp)
			if tt.method == "HEAD" && b != "" {
				t.Errorf("HEAD has a body")
			}
			if tt.method == "GET" && b == "" {
				t.Errorf("empty body")
			}
		})
	}
}

// TestRevalidation: a browser that has the page or an asset asks with its
// ETag and gets 304; a changed asset would have another.
func TestRevalidation(t *testing.T) {
	for _, target := range []string{"/", "/console/app.css"} {
		first := serve(t, "GET", target, nil)
		etag := first.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("%s: no ETag", target)
		}
		if resp := serve(t, "GET", target, http.Header{"If-None-Match": {`"other", ` + etag}}); resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, want 304", target, resp.StatusCode)
		}
		if resp := serve(t, "GET", target, http.Header{"If-None-Match": {`"other"`}}); resp.StatusCode != http.StatusOK {
			t.Errorf("%s with another ETag: %d, want 200", target, resp.StatusCode)
		}
	}
}

// TestPageLinksVersionedAssets: the page names each asset with the ?v= of
// its content, so an asset is cached for ever and a new one is fetched at
// once.
func TestPageLinksVersionedAssets(t *testing.T) {
	page := body(t, serve(t, "GET", "/", nil))
	for _, name := range []string{"app.js", "app.css", "icon.svg"} {
		want := `"/console/` + name + `?v=` + load().assets[name].hash + `"`
		if !strings.Contains(page, want) {
			t.Errorf("the page does not link %s", want)
		}
	}
}

// TestSelfContained: nothing the console serves refers to another origin,
// runs inline script or sets an inline style (the CSP would refuse them),
// or puts the token in a URL.
func TestSelfContained(t *testing.T) {
	files := map[string]string{"index.html": string(load().index.body)}
	for name, a := range load().assets {
		files[name] = string(a.body)
	}
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	for name, text := range files {
		if name == "icon.svg" {
			text = strings.ReplaceAll(text, `xmlns="http://www.w3.org/2000/svg"`, "")
		}
		if m := external.FindString(text); m != "" {
			t.Errorf("%s refers to %q: the console fetches nothing from elsewhere", name, m)
		}
	}
	page := files["index.html"]
	for _, bad := range []string{" style=", "<style", "onclick=", "onload=", "onsubmit=", "javascript:"} {
		if strings.Contains(page, bad) {
			t.Errorf("index.html has %q, which the CSP refuses", bad)
		}
	}
	if n := strings.Count(page, "<script"); n != 1 || !strings.Contains(page, `<script src="/console/app.js?v=`) {
		t.Errorf("index.html has %d scripts; want only /console/app.js", n)
	}
	js := files["app.js"]
	for _, bad := range []string{"innerHTML", "eval(", "new Function", "setAttribute('style'", "new EventSource", "?token=", "&token="} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %q", bad)
		}
	}
	if !strings.Contains(js, "sessionStorage") || !strings.Contains(js, "'Bearer '") {
		t.Error("app.js does not keep the token in sessionStorage and send it as a bearer token")
	}
}
