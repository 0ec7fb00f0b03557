package dispatch

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// RetryableError marks an error after which trying the same request again may
// succeed. RetryAfter, when positive, is the earliest the provider wants it.
type RetryableError struct {
	Err        error
	RetryAfter time.Duration
}

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Retryable wraps err as retryable, after at least retryAfter (0: no hint).
func Retryable(err error, retryAfter time.Duration) error {
	if err == nil {
		return nil
	}
	return &RetryableError{Err: err, RetryAfter: retryAfter}
}

// IsRetryable reports whether err, or an error it wraps, is retryable, and
// the provider's Retry-After hint.
func IsRetryable(err error) (bool, time.Duration) {
	var r *RetryableError
	if errors.As(err, &r) {
		return true, r.RetryAfter
	}
	return false, 0
}

// maxExcerpt bounds how much of a response body an error quotes.
const maxExcerpt = 512

// CheckResponse classifies an HTTP response the one way all providers share:
// 2xx is nil; 429 and 5xx are retryable (honouring Retry-After); any other
// status is permanent. The error quotes an excerpt of the body. It reads (and
// leaves unread the rest of) the body only for non-2xx responses. The request
// URL is not quoted, since some providers put credentials in it.
func CheckResponse(provider string, resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxExcerpt+1))
	err := fmt.Errorf("%s: %s: %s", provider, resp.Status, Excerpt(body))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return Retryable(err, ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
	}
	return err
}

// Excerpt returns at most maxExcerpt bytes of body as one line of valid UTF-8.
func Excerpt(body []byte) string {
	if len(body) > maxExcerpt {
		body = body[:maxExcerpt]
		for len(body) > 0 && !utf8.Valid(body) {
			body = body[:len(body)-1]
		}
		body = append(body, "…"...)
	}
	s := strings.TrimSpace(string(body))
	s = strings.ReplaceAll(s, "\n", " ")
	if s == "" {
		return "(empty body)"
	}
	return s
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// It returns 0 when the header is absent or unreadable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
