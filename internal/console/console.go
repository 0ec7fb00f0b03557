// Package console is escalator's web console for responders: one page,
// served by the worker itself, that shows the escalations (live, from the
// outcome stream), one escalation's timeline next to its plan, who is on
// call, the silences and the heartbeat monitors, and lets a person
// acknowledge, resolve, escalate, silence and expire a silence. It is plain
// HTML, CSS and a little JavaScript, embedded in the binary: nothing is
// built on the user's machine and nothing is fetched from elsewhere. The
// page uses the HTTP API and nothing else; every API call it makes carries
// the --http-token, which the person types once (kept in sessionStorage).
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

//go:embed web
var files embed.FS

// Prefix is the path under which the console's assets are served; the page
// itself is served at "/".
const Prefix = "/console/"

// CSP is the Content-Security-Policy of every answer: the page's own
// scripts, styles, images and API, nothing else; no inline script or style,
// no frames, no form posted anywhere (the login form is read by the script,
// so a token is never put in a URL even if the script failed).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	body  []byte
	ctype string
	// hash names this content: the ETag, and the ?v= that the page puts
	// on its links so that a browser may keep a versioned asset for ever.
	hash string
}

type site struct {
	index  asset
	assets map[string]asset // by name under Prefix
}

var load = sync.OnceValue(func() *site {
	s := &site{assets: map[string]asset{}}
	err := fs.WalkDir(files, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "web/")
		s.assets[name] = newAsset(name, b)
		return nil
	})
	if err != nil {
		panic("console: read the embedded assets: " + err.Error()) // the build embeds them
	}
	page := s.assets["index.html"].body
	delete(s.assets, "index.html")
	// Version the page's links to its assets with their hashes.
	for name, a := range s.assets {
		page = bytes.ReplaceAll(page, []byte(`"`+Prefix+name+`"`), []byte(`"`+Prefix+name+"?v="+a.hash+`"`))
	}
	s.index = newAsset("index.html", page)
	return s
})

func newAsset(name string, b []byte) asset {
	sum := sha256.Sum256(b)
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) { // the system's MIME table may lack or differ on these
	case ".html":
		ctype = "text/html; charset=utf-8"
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	case ".webmanifest":
		ctype = "application/manifest+json"
	}
	return asset{body: b, ctype: ctype, hash: hex.EncodeToString(sum[:8])}
}

// Handler serves the console: the page at "/" and its assets under Prefix
// (GET and HEAD; anything else is 405, an unknown asset 404). The page is
// revalidated on every load (Cache-Control: no-cache, with an ETag), so a
// new worker's console is seen at once; an asset asked for with the ?v= of
// its current content may be kept for a year. Every answer carries CSP and
// the usual hardening headers. The page and its assets hold no data: the
// API calls the page makes need the token.
func Handler() http.Handler {
	s := load()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var a asset
		immutable := false
		switch {
		case r.URL.Path == "/":
			a = s.index
		case strings.HasPrefix(r.URL.Path, Prefix):
			var ok bool
			if a, ok = s.assets[strings.TrimPrefix(r.URL.Path, Prefix)]; !ok {
				http.NotFound(w, r)
				return
			}
			immutable = r.URL.Query().Get("v") == a.hash
		default:
			http.NotFound(w, r)
			return
		}
		etag := `"` + a.hash + `"`
		h.Set("ETag", etag)
		if immutable {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", a.ctype)
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(a.body)
		}
	})
}

// etagMatches reports whether an If-None-Match header names etag (or *).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
