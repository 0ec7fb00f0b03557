package iotcall_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall/iotcallsim"
	"github.com/escalator-oss/escalator/internal/provider"
)

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(s *iotcallsim.Server)
		req        dispatch.Request
		authCode   string
		ctxTimeout time.Duration
		closed     bool
		wantRetry  bool
		wantAfter  time.Duration
		wantErr    string
		wantCalls  int
	}{
		{name: "5xx is retryable", setup: func(s *iotcallsim.Server) { s.FailNext(1, http.StatusServiceUnavailable) },
			req: request("r1", alice, bob), wantRetry: true, wantErr: "put iotcall rule r1 numbers: iotcall: 503 Service Unavailable"},
		{name: "429 is retryable with Retry-After", setup: func(s *iotcallsim.Server) { s.ThrottleNext(1, 7*time.Second) },
			req: request("r1", alice, bob), wantRetry: true, wantAfter: 7 * time.Second, wantErr: "iotcall: 429 Too Many Requests"},
		{name: "5xx on call is retryable", setup: func(s *iotcallsim.Server) {
			s.SetHook(func(r iotcallsim.Request) {
				if r.Method == http.MethodPut {
					s.FailNext(1, http.StatusBadGateway)
				}
			})
		}, req: request("r1", alice, bob), wantRetry: true, wantErr: "fire iotcall rule r1: iotcall: 502 Bad Gateway"},
		{name: "timeout is retryable", setup: func(s *iotcallsim.Server) { s.HangNext(1) },
			req: request("r1", alice, bob), ctxTimeout: 50 * time.Millisecond, wantRetry: true,
			wantErr: "context deadline exceeded"},
		{name: "connection refused is retryable", closed: true, req: request("r1", alice, bob), wantRetry: true,
			wantErr: "put iotcall rule r1 numbers: send request:"},
		{name: "unknown rule is permanent", req: request("nope", alice, bob), wantErr: "iotcall: 404 Not Found"},
		{name: "wrong auth code is permanent", authCode: "wrong-code-123", req: request("r1", alice, bob),
			wantErr: "iotcall: 401 Unauthorized"},
		{name: "call type's number count is permanent", req: request("single", alice, bob),
			wantErr: "fire iotcall rule single: iotcall: 400 Bad Request: {\"result\":\"rule type needs exactly 1 numbers, has 2\"}"},
		{name: "no rule key", req: dispatch.Request{People: []provider.Person{alice}}, wantErr: "call iotcall: the step names no rule key"},
		{name: "no number IoTCall can take", req: request("r1", dave),
			wantErr: "call iotcall: no number IoTCall can call: dave: IoTCall has no country id configured for +44"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := iotcallsim.NewServer(authCode)
			defer srv.Close()
			srv.AddRule("r1", iotcallsim.Broadcast)
			srv.AddRule("single", iotcallsim.Normal)
			if tt.setup != nil {
				tt.setup(srv)
			}
			if tt.closed {
				srv.Close()
			}
			core, logs := observer.New(zap.DebugLevel)
			c := newClient(t, srv.URL(), func(c *iotcall.Config) {
				if tt.authCode != "" {
					c.AuthCode = tt.authCode
				}
				c.Logger = zap.New(core)
			})
			ctx := context.Background()
			if tt.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
				defer cancel()
			}
			res, err := c.Call(ctx, tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Call error = %v, want it to contain %q", hideErr(err), tt.wantErr)
			}
			retry, after := dispatch.IsRetryable(err)
			if retry != tt.wantRetry || after != tt.wantAfter {
				t.Errorf("IsRetryable = %v, %s; want %v, %s", retry, after, tt.wantRetry, tt.wantAfter)
			}
			if n := len(srv.Calls()); n != tt.wantCalls {
				t.Errorf("%d calls placed, want %d", n, tt.wantCalls)
			}
			assertNoSecret(t, []string{authCode, tt.authCode}, err.Error(), res.Detail, logs)
		})
	}
}

func assertNoSecret(t *testing.T, secrets []string, texts ...any) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, x := range texts {
			var txt string
			switch v := x.(type) {
			case string:
				txt = v
			case *observer.ObservedLogs:
				for _, e := range v.All() {
					txt += e.Message
					for _, f := range e.Context {
						txt += " " + f.String
						if f.Interface != nil {
							if er, ok := f.Interface.(error); ok {
								txt += " " + er.Error()
							}
						}
					}
				}
			}
			if strings.Contains(txt, s) {
				// Do not print the secret itself.
				t.Errorf("an Auth Code appears in errors, results or logs (%d chars of text)", len(txt))
			}
		}
	}
}

func TestNewRequiresAuthCode(t *testing.T) {
	_, err := iotcall.New(iotcall.Config{BaseURL: "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "AuthCode is required") {
		t.Fatalf("New without AuthCode = %v", err)
	}
	c, err := iotcall.New(iotcall.Config{AuthCode: "x"})
	if err != nil || c.Name() != iotcall.Name {
		t.Fatalf("New with defaults = %v, %v", c, err)
	}
}

func TestPartialFailureKeepsTheOthers(t *testing.T) {
	srv := iotcallsim.NewServer(authCode)
	defer srv.Close()
	srv.AddRule("r1", iotcallsim.Broadcast)
	c := newClient(t, srv.URL(), nil)
	res, err := c.Call(context.Background(), request("r1", alice, dave, bob))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Reached) != 2 || len(res.Failed) != 1 || res.Failed[0].Person.Name != dave.Name || res.Failed[0].Person.Phone != dave.Phone {
		t.Fatalf("result = %+v, want alice and bob reached, dave failed", res)
	}
}

// TestAuthCodeNeverLeaks runs against a server that echoes the Authorization
// header in every body, success or failure.
func TestAuthCodeNeverLeaks(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusInternalServerError, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status)
				_, _ = w.Write([]byte(`{"you_sent":"` + r.Header.Get("Authorization") + `"}`))
			}))
			defer echo.Close()
			core, logs := observer.New(zap.DebugLevel)
			c := newClient(t, echo.URL, func(c *iotcall.Config) { c.Logger = zap.New(core); c.ReadBeforeWrite = true })
			res, err := c.Call(context.Background(), request("r1", alice, bob))
			errText := ""
			if err != nil {
				errText = err.Error()
			}
			if status == http.StatusOK && (err != nil || !strings.Contains(res.Detail, dispatch.Redacted)) {
				t.Fatalf("Call = %s, detail %q: want success with the echo redacted", hide(errText), hide(res.Detail))
			}
			if status != http.StatusOK && (err == nil || !strings.Contains(errText, dispatch.Redacted)) {
				t.Fatalf("Call error = %q: want a failure with the echo redacted", hide(errText))
			}
			assertNoSecret(t, []string{authCode}, errText, res.Detail, logs)
		})
	}
}

// hide keeps the test Auth Code out of failure output.
func hide(s string) string {
	return strings.ReplaceAll(s, authCode, "<AuthCode hidden by the test>")
}

func hideErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return hide(err.Error())
}
