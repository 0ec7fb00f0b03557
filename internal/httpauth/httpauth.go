// Package httpauth is the one token check of escalator's HTTP server: the
// intake and the API take the same token, the same ways.
package httpauth

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
)

// Token is the --http-token. The zero value lets every request through.
type Token string

// Allows reports whether r carries the token: "Authorization: Bearer
// <token>", or as the password of HTTP Basic auth (for senders that can only
// put it in a URL). An empty Token allows every request.
func (t Token) Allows(r *http.Request) bool {
	if t == "" {
		return true
	}
	var got string
	if _, pass, ok := r.BasicAuth(); ok {
		got = pass
	} else if v := r.Header.Get("Authorization"); len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		got = strings.TrimSpace(v[7:])
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1
}

// Require wraps h so that a request without the token is answered 401 with
// a JSON error and a WWW-Authenticate challenge, and never reaches h.
func (t Token) Require(h http.Handler) http.Handler {
	if t == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !t.Allows(r) {
			Deny(w)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Deny answers 401: the token is missing or wrong.
func Deny(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="escalator"`)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"error": "missing or wrong token: send Authorization: Bearer <ESCALATOR_HTTP_TOKEN>"})
}
