package cli

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// The Client's errors. Each one's message is one line that says what
// happened and what to do; none carries the token.

// UnreachableError: the request got no answer — nothing listens at the
// server's address, the name does not resolve, or the worker took too long.
type UnreachableError struct {
	Server string
	// Cause is the short reason ("connection refused").
	Cause string
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the worker at %s (%s): is it running? set --server or ESCALATOR_SERVER", e.Server, e.Cause)
}

// UnauthorizedError: the worker answered 401, it runs with a token and the
// request had none, or the wrong one.
type UnauthorizedError struct {
	Server string
	// TokenSent says whether a token was sent (then it is the wrong one).
	TokenSent bool
}

func (e *UnauthorizedError) Error() string {
	if e.TokenSent {
		return fmt.Sprintf("the worker at %s refused the token: the worker wants its --http-token; check --token, ESCALATOR_TOKEN or ESCALATOR_TOKEN_FILE", e.Server)
	}
	return fmt.Sprintf("the worker at %s wants a token: set --token or ESCALATOR_TOKEN (or ESCALATOR_TOKEN_FILE)", e.Server)
}

// NotFoundError: the worker answered 404 (no escalation, silence, roster or
// policy of that name).
type NotFoundError struct {
	Msg string
}

func (e *NotFoundError) Error() string { return e.Msg }

// ConflictError: the worker answered 409. An action its escalation's state
// forbids (Status: acknowledged, resolved, exhausted, ended, placing), or a
// short code several escalations share (IDs, newest first: name one by its
// id).
type ConflictError struct {
	Msg    string
	Status string
	IDs    []string
}

func (e *ConflictError) Error() string {
	if len(e.IDs) > 0 {
		return fmt.Sprintf("%s (%d escalations share it): name one by its id: %s", shortCodeOf(e.Msg), len(e.IDs), strings.Join(e.IDs, " or "))
	}
	if e.Status != "" && !strings.Contains(e.Msg, e.Status) {
		return e.Msg + " (" + e.Status + ")"
	}
	return e.Msg
}

// shortCodeOf returns "short code 4821" from the API's ambiguity message,
// or "the short code".
func shortCodeOf(msg string) string {
	if f := strings.Fields(msg); len(f) >= 3 && f[0] == "short" && f[1] == "code" {
		return "short code " + f[2]
	}
	return "the short code"
}

// BadRequestError: the worker answered 400; Field names what is wrong, in
// the API's words (ends_at, matchers.team …).
type BadRequestError struct {
	Msg   string
	Field string
}

func (e *BadRequestError) Error() string { return e.Msg }

// ServerError: any other answer — 503 when the worker could not read
// JetStream, 5xx from a proxy in between.
type ServerError struct {
	Code int
	Msg  string
}

func (e *ServerError) Error() string {
	what := strconv.Itoa(e.Code)
	if t := statusText(e.Code); t != "" {
		what += " " + t
	}
	if e.Msg == "" {
		return "the worker answered " + what + ": try again"
	}
	return "the worker answered " + what + ": " + e.Msg + ": try again"
}

func statusText(code int) string {
	switch code {
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 500:
		return "Internal Server Error"
	}
	return ""
}

// cause is the short reason a request got no answer, without the URL the
// http client's error repeats.
func cause(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dnsErr):
		return "no such host " + dnsErr.Name
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timed out"
	case errors.As(err, &opErr) && opErr.Err != nil:
		return opErr.Err.Error()
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err.Error()
	}
	return err.Error()
}
