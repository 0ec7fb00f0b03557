package ccai

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
	"golang.org/x/time/rate"

	"github.com/escalator-oss/escalator/internal/dispatch"
)

// maxBody bounds how much of a response the client reads.
const maxBody = 1 << 20

// Client is a CCAI Platform client. It implements dispatch.Provider; it is
// safe for concurrent use.
type Client struct {
	cfg     Config
	log     *zap.Logger
	limiter *rate.Limiter

	mu     sync.Mutex
	people map[string]string // call id → person name, for Answered
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configure ccai: %w", err)
	}
	cfg = cfg.withDefaults()
	return &Client{
		cfg:     cfg,
		log:     cfg.Logger.With(zap.String("component", "ccai")),
		limiter: rate.NewLimiter(rate.Limit(cfg.RatePerSecond), 1),
		people:  map[string]string{},
	}, nil
}

// Name returns Name.
func (c *Client) Name() string { return Name }

// APIError is a 400 answer: permanent, with the platform's message.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("ccai answered %d: %s", e.Status, e.Message) }

// ErrNotFound is a 404: the base URL's subdomain is most likely wrong.
var ErrNotFound = errors.New("ccai answered 404 Not Found: check CCAI_BASE_URL's subdomain")

// ErrUnauthorized is a 401 or 403: the credentials are wrong.
var ErrUnauthorized = errors.New("ccai refused the credentials: check CCAI_COMPANY_KEY and CCAI_COMPANY_SECRET (or the API credentials)")

// do sends one request after waiting for the rate limiter, and returns a 2xx
// answer's status and body. 400 is an *APIError, 404 ErrNotFound, 401/403
// ErrUnauthorized; 429, 5xx and transport errors are retryable.
func (c *Client) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	if err := c.limiter.Wait(ctx); err != nil {
		return 0, nil, fmt.Errorf("wait for the rate limit: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.BaseURL+path, rd)
	if err != nil {
		return 0, nil, c.scrub(fmt.Errorf("build request: %w", err))
	}
	req.SetBasicAuth(c.cfg.CompanyKey, c.cfg.CompanySecret)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, c.scrub(dispatch.Retryable(fmt.Errorf("send %s %s: %w", method, path, err), 0))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusBadRequest:
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		var m struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &m) != nil || m.Message == "" {
			m.Message = dispatch.Excerpt(raw)
		}
		return resp.StatusCode, nil, &APIError{Status: resp.StatusCode, Message: c.redact(m.Message)}
	case http.StatusNotFound:
		return resp.StatusCode, nil, ErrNotFound
	case http.StatusUnauthorized, http.StatusForbidden:
		return resp.StatusCode, nil, ErrUnauthorized
	}
	if err := dispatch.CheckResponse(Name, resp); err != nil {
		return resp.StatusCode, nil, c.scrub(fmt.Errorf("send %s %s: %w", method, path, err))
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, nil, c.scrub(dispatch.Retryable(fmt.Errorf("read answer: %w", err), 0))
	}
	return resp.StatusCode, raw, nil
}

// redact removes the credentials from s, should an answer echo them.
func (c *Client) redact(s string) string {
	for _, k := range []string{c.cfg.CompanySecret, c.cfg.CompanyKey} {
		s = strings.ReplaceAll(s, k, "[REDACTED]")
	}
	return s
}

// scrub returns err with the credentials removed from its message.
func (c *Client) scrub(err error) error { return dispatch.Scrub(err, c.redact) }
