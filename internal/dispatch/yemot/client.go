package yemot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
)

// maxBody bounds how much of a response the client reads.
const maxBody = 1 << 20

// Client is a Yemot API client. It implements dispatch.Provider; it is safe
// for concurrent use.
type Client struct {
	cfg Config
	log *zap.Logger

	loginSem chan struct{} // one Login at a time, interruptible by ctx
	mu       sync.Mutex
	session  string   // the cached session token (Username/Password mode)
	secrets  []string // configured secrets to scrub from errors and logs
	sessions []string // session tokens seen, newest last, also scrubbed
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configure yemot: %w", err)
	}
	cfg = cfg.withDefaults()
	c := &Client{
		cfg:      cfg,
		log:      cfg.Logger.With(zap.String("component", "yemot")),
		loginSem: make(chan struct{}, 1),
	}
	for _, s := range []string{cfg.Token, cfg.Password} {
		c.addSecret(s, false)
	}
	return c, nil
}

// Name returns Name.
func (c *Client) Name() string { return Name }

// StatusError is Yemot's answer when responseStatus is not OK (Yemot answers
// errors with HTTP 200). It is permanent: Yemot does not say which of its
// errors are transient, so none is retried blindly.
type StatusError struct {
	// Command is the API command, e.g. "CallExtensionBridging".
	Command string
	// Status is the responseStatus: ERROR, EXCEPTION, FORBIDDEN, ...
	Status string
	// Message is Yemot's message, with any secret removed.
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("yemot %s answered %s: %s", e.Command, e.Status, e.Message)
}

// sessionGone reports whether Yemot says the session token is no longer valid.
func (e *StatusError) sessionGone() bool {
	m := strings.ToLower(e.Message)
	return (e.Status == "EXCEPTION" || e.Status == "FORBIDDEN") &&
		strings.Contains(m, "session") && (strings.Contains(m, "invalid") || strings.Contains(m, "expired"))
}

// message reads an error answer's message: a string, or (not documented
// either way) anything else, quoted as it is.
func message(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) == nil {
		return s
	}
	return dispatch.Excerpt(raw)
}

// command posts body(token) to /<name> and decodes an OK answer into out.
// In Username/Password mode, an invalid or expired session is answered by
// logging in again once and repeating the request once.
func (c *Client) command(ctx context.Context, name string, body func(token string) any, out any) error {
	for attempt := 0; ; attempt++ {
		tok, err := c.token(ctx)
		if err != nil {
			return err
		}
		err = c.post(ctx, name, body(tok), out)
		var se *StatusError
		if attempt == 0 && c.cfg.Token == "" && errors.As(err, &se) && se.sessionGone() {
			c.log.Info("session token refused; logging in again", zap.String("command", name), zap.String("status", se.Status))
			c.forget(tok)
			continue
		}
		return err
	}
}

// post sends one request. Transport errors, 429 and 5xx are retryable; a
// responseStatus other than OK is a *StatusError.
func (c *Client) post(ctx context.Context, name string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+"/"+name, bytes.NewReader(b))
	if err != nil {
		return c.scrub(fmt.Errorf("build %s request: %w", name, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return c.scrub(dispatch.Retryable(fmt.Errorf("send %s: %w", name, err), 0))
	}
	defer resp.Body.Close()
	if err := dispatch.CheckResponse(Name, resp); err != nil {
		return c.scrub(fmt.Errorf("send %s: %w", name, err))
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return c.scrub(dispatch.Retryable(fmt.Errorf("read %s answer: %w", name, err), 0))
	}
	// Only the documented body counts: a JSON object with responseStatus.
	// Anything else with a 2xx (a proxy's or a maintenance page, an empty
	// 204) is not Yemot's answer, and nothing says the command ran.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return c.scrub(fmt.Errorf("yemot %s: %s, but the body is not a JSON object: %s", name, resp.Status, dispatch.Excerpt(raw)))
	}
	var status string
	if err := json.Unmarshal(fields["responseStatus"], &status); err != nil || status == "" {
		return c.scrub(fmt.Errorf("yemot %s: %s, but the body has no responseStatus: %s", name, resp.Status, dispatch.Excerpt(raw)))
	}
	if status != "OK" {
		return &StatusError{Command: name, Status: status, Message: c.redact(message(fields["message"]))}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return c.scrub(fmt.Errorf("decode %s answer: %w: %s", name, err, dispatch.Excerpt(raw)))
		}
	}
	return nil
}

// Login obtains a session token with the configured Username and Password.
// The token is returned for callers that manage it themselves; the client
// caches its own.
func (c *Client) Login(ctx context.Context) (string, error) {
	if c.cfg.Username == "" {
		return "", errors.New("log in to yemot: no username configured")
	}
	var out struct {
		Token string `json:"token"`
	}
	body := struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}{c.cfg.Username, c.cfg.Password}
	if err := c.post(ctx, "Login", body, &out); err != nil {
		return "", fmt.Errorf("log in to yemot: %w", err)
	}
	if out.Token == "" {
		return "", errors.New("log in to yemot: the answer holds no token")
	}
	c.addSecret(out.Token, true)
	return out.Token, nil
}

// token returns the configured token, or the cached session token, logging
// in when there is none. Concurrent callers share one Login.
func (c *Client) token(ctx context.Context) (string, error) {
	if c.cfg.Token != "" {
		return c.cfg.Token, nil
	}
	select {
	case c.loginSem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("log in to yemot: %w", ctx.Err())
	}
	defer func() { <-c.loginSem }()
	c.mu.Lock()
	tok := c.session
	c.mu.Unlock()
	if tok != "" {
		return tok, nil
	}
	tok, err := c.Login(ctx)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.session = tok
	c.mu.Unlock()
	c.log.Info("logged in")
	return tok, nil
}

// forget drops the cached session token tok, unless another goroutine has
// already replaced it.
func (c *Client) forget(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session == tok {
		c.session = ""
	}
}
