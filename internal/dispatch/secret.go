package dispatch

import (
	"context"
	"errors"
	"strings"
)

// Secret is a credential. It prints, formats and marshals as "[REDACTED]";
// only Reveal gives the value, to the one place that sends it.
type Secret string

// Redacted is what a Secret shows instead of its value.
const Redacted = "[REDACTED]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer without the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString implements fmt.GoStringer without the value.
func (s Secret) GoString() string { return `dispatch.Secret("` + s.String() + `")` }

// MarshalText implements encoding.TextMarshaler without the value (and so
// JSON and YAML encoding).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Redactor returns a function that replaces every non-empty secret of
// secrets in a string with "[REDACTED]": a last line of defence for text
// that goes to logs and events.
func Redactor(secrets ...string) func(string) string {
	var olds []string
	for _, s := range secrets {
		if len(s) >= 4 { // shorter "secrets" would redact ordinary text
			olds = append(olds, s, Redacted)
		}
	}
	if len(olds) == 0 {
		return func(s string) string { return s }
	}
	r := strings.NewReplacer(olds...)
	return r.Replace
}

// redactedError is an error whose message has been scrubbed of secrets. It
// keeps only what callers branch on (context errors), never the original
// error, whose text might hold a secret.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

// Scrub returns err with redact applied to its message, keeping whether it is
// retryable (and its Retry-After) and whether it is a context error. The
// original error is dropped: a wrapped *url.Error quotes the request URL,
// which may hold a credential.
func Scrub(err error, redact func(string) string) error {
	if err == nil {
		return nil
	}
	out := &redactedError{msg: redact(err.Error())}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		out.cause = context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		out.cause = context.Canceled
	}
	if ok, after := IsRetryable(err); ok {
		return Retryable(out, after)
	}
	return out
}
