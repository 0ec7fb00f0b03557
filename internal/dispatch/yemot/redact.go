package yemot

import (
	"net/url"
	"slices"
	"strings"

	"github.com/escalator-oss/escalator/internal/dispatch"
)

// redacted replaces a secret in errors and log lines.
const redacted = "[REDACTED]"

// maxSecrets bounds how many session tokens are remembered for scrubbing.
const maxSecrets = 64

// addSecret remembers s (and its URL-escaped forms) so that it is scrubbed
// from every error and Detail the client produces. Configured secrets are
// kept for ever; of session tokens, the newest maxSecrets are kept.
func (c *Client) addSecret(s string, session bool) {
	if s == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	list := &c.secrets
	if session {
		list = &c.sessions
	}
	for _, v := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
		if !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	if n := len(c.sessions); n > maxSecrets {
		c.sessions = slices.Clone(c.sessions[n-maxSecrets:])
	}
}

// redact removes every known secret from s.
func (c *Client) redact(s string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.secrets {
		s = strings.ReplaceAll(s, k, redacted)
	}
	for _, k := range c.sessions {
		s = strings.ReplaceAll(s, k, redacted)
	}
	return s
}

// scrub returns err with the credentials removed from its message.
func (c *Client) scrub(err error) error { return dispatch.Scrub(err, c.redact) }
