// Package iotcall is the IoTCall (IoTコール) client: it puts a step's people
// on a rule's number list (PUT /pattern/<key>/tel) and fires the rule
// (POST /pattern/<key>/call), as the API manual describes
// (../shared/seeds/iotcall-api.ja.txt). The manual documents neither
// response bodies nor error codes: any 2xx is accepted and the body kept
// verbatim as an excerpt; other statuses are classified by
// dispatch.CheckResponse.
package iotcall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/provider"
)

// Config configures a Client.
type Config struct {
	// BaseURL is IoTCall's API root (empty: DefaultBaseURL).
	BaseURL string
	// AuthCode is the account's Auth Code, sent raw as the Authorization
	// header. Required. It never appears in errors, logs or results.
	AuthCode string
	// HTTPClient (nil: a client with a 30s overall timeout; the Dispatcher
	// also bounds every attempt).
	HTTPClient *http.Client
	// CountryIDs maps calling codes to international_prefix_id (nil:
	// phone.DefaultIoTCallCountryIDs, Japan = 1).
	CountryIDs map[int]int
	// Locker makes "replace the list, fire the rule" one critical section per
	// rule key. Use a kvlock.Locker across replicas (nil: an in-process
	// dispatch.LocalLocker, enough for a single worker only).
	Locker dispatch.Locker
	// ReadBeforeWrite reads the rule's list first (GET /pattern/<key>/tel)
	// and skips the PUT when it already holds the same numbers. The GET's
	// body is undocumented: when it cannot be read with confidence, the PUT
	// is made. It trades a write for a read, so it is off by default.
	ReadBeforeWrite bool
	// Logger (nil: no logging).
	Logger *zap.Logger
}

// Client is the IoTCall provider. Safe for concurrent use.
type Client struct {
	base     string
	auth     string
	hc       *http.Client
	ids      map[int]int
	locker   dispatch.Locker
	readMode bool
	log      *zap.Logger
	redact   func(string) string
}

var _ dispatch.Provider = (*Client)(nil)

// maxBody bounds how much of a response body is read.
const maxBody = 64 << 10

// New returns a Client per cfg.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.AuthCode) == "" {
		return nil, errors.New("create iotcall client: AuthCode is required (IOTCALL_AUTH_CODE)")
	}
	c := &Client{
		base: strings.TrimRight(cfg.BaseURL, "/"), auth: cfg.AuthCode, hc: cfg.HTTPClient,
		ids: cfg.CountryIDs, locker: cfg.Locker, readMode: cfg.ReadBeforeWrite, log: cfg.Logger,
		redact: dispatch.Redactor(cfg.AuthCode),
	}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if !strings.HasPrefix(c.base, "http://") && !strings.HasPrefix(c.base, "https://") {
		return nil, fmt.Errorf("create iotcall client: base URL %q must start with http:// or https://", c.base)
	}
	if c.hc == nil {
		c.hc = dispatch.NewHTTPClient(nil, 30*time.Second)
	}
	if c.locker == nil {
		c.locker = &dispatch.LocalLocker{}
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	c.log = c.log.With(zap.String("component", "iotcall"))
	return c, nil
}

// Name returns Name.
func (c *Client) Name() string { return Name }

// LockKey is the Locker key of an IoTCall rule.
func LockKey(rule string) string { return "iotcall." + rule }

// Call replaces the rule's numbers with req.People, in order (the order of a
// rotation), and fires the rule, holding the rule's lock throughout. With a
// pool of rules (Settings.Rules), it uses a free one (see lockRule): the
// Result's References and Detail name it. People whose numbers IoTCall
// cannot take (no country id configured) are returned as Failed. The rule's
// call type (single, broadcast, rotation...) is fixed in IoTCall's
// dashboard; the request's Strategy cannot change it.
func (c *Client) Call(ctx context.Context, req dispatch.Request) (dispatch.Result, error) {
	v, err := provider.As[Settings](req.Via)
	pool := v.Pool()
	if err != nil || len(pool) == 0 {
		return dispatch.Result{}, errors.New("call iotcall: the step names no rule key")
	}
	for _, rule := range pool {
		if strings.TrimSpace(rule) == "" {
			return dispatch.Result{}, errors.New("call iotcall: the step names an empty rule key")
		}
		if strings.ContainsAny(rule, "/?#% ") {
			return dispatch.Result{}, fmt.Errorf("call iotcall: rule key %q is not a URL key", rule)
		}
	}
	tels, people, failed := entries(req.People, c.ids)
	if len(tels) == 0 {
		return dispatch.Result{Provider: Name, Failed: failed},
			fmt.Errorf("call iotcall: no number IoTCall can call: %s", reasons(failed))
	}
	// The manual: every call type but 通常 needs two or more numbers
	// registered through the API, and 通常 calls one. A per-person cap or
	// a fallback remainder can leave another count at call time: the rule
	// is then neither changed nor fired (what IoTCall would do is not
	// documented), and the people go on to the step's next provider.
	if n := len(tels); (req.Strategy == provider.Single && n != 1) || (req.Strategy != provider.Single && n < 2) {
		why := fmt.Sprintf("an IoTCall %s rule needs %s, but %d %s left at call time: %s not fired",
			req.Strategy, needs(req.Strategy), n, plural(n, "number is", "numbers are"), poolName(pool))
		for _, p := range people {
			failed = append(failed, provider.Unreached{Person: p, Reason: why})
		}
		return dispatch.Result{Provider: Name, Failed: failed}, fmt.Errorf("call iotcall: %s", why)
	}

	rule, unlock, err := c.lockRule(ctx, pool, req.EscalationID)
	if err != nil {
		return dispatch.Result{}, dispatch.Retryable(fmt.Errorf("lock iotcall rule %s: %w", rule, err), 0)
	}
	defer unlock()

	var detail []string
	if len(pool) > 1 {
		detail = append(detail, fmt.Sprintf("rule %s of the pool %s", rule, strings.Join(pool, ", ")))
	}
	put := true
	if c.readMode {
		same, err := c.sameList(ctx, rule, tels)
		if err != nil {
			c.log.Debug("reading the rule's numbers failed; replacing them", zap.String("rule", rule),
				zap.String("error", c.redact(err.Error())))
		}
		put = !same
		if same {
			detail = append(detail, "tel: unchanged, PUT skipped")
		}
	}
	if put {
		body, err := c.do(ctx, http.MethodPut, rule, "tel", strings.NewReader(encodeForm(tels)))
		if err != nil {
			return dispatch.Result{}, fmt.Errorf("put iotcall rule %s numbers: %w", rule, err)
		}
		detail = append(detail, "tel: "+dispatch.Excerpt(body))
	}
	body, err := c.do(ctx, http.MethodPost, rule, "call", nil)
	if err != nil {
		return dispatch.Result{}, fmt.Errorf("fire iotcall rule %s: %w", rule, err)
	}
	detail = append(detail, "call: "+dispatch.Excerpt(body))
	return dispatch.Result{
		Provider:   Name,
		References: []string{rule},
		Reached:    people,
		Failed:     failed,
		Detail:     c.redact(strings.Join(detail, "; ")),
	}, nil
}

// do sends one request and returns the body of a 2xx response. Transport
// errors are retryable; statuses are classified by dispatch.CheckResponse.
func (c *Client) do(ctx context.Context, method, rule, what string, body io.Reader) ([]byte, error) {
	r, err := http.NewRequestWithContext(ctx, method, c.base+"/pattern/"+rule+"/"+what, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	// The raw Auth Code, no scheme word, as the manual shows.
	r.Header.Set("Authorization", c.auth)
	if body != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(r)
	if err != nil {
		// *url.Error quotes the URL, which holds no secret (the Auth Code
		// travels in a header).
		return nil, dispatch.Retryable(fmt.Errorf("send request: %w", err), 0)
	}
	defer resp.Body.Close()
	if err := dispatch.CheckResponse(Name, resp); err != nil {
		return nil, dispatch.Scrub(err, c.redact)
	}
	// A 2xx means IoTCall accepted the request: a body that cannot be read
	// to the end must not turn into a retry (which could ring people twice).
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	// The manual documents no response body, so any 2xx is IoTCall's answer
	// — except a web page: a login or maintenance page served with 200 by
	// something in front of the API is not IoTCall accepting the request.
	if webPage(resp.Header.Get("Content-Type"), b) {
		return nil, fmt.Errorf("%s: %s: the answer is a web page, not IoTCall's API (a login or maintenance page?): %s",
			Name, resp.Status, dispatch.Excerpt(b))
	}
	return b, nil
}

func needs(s provider.Strategy) string {
	if s == provider.Single {
		return "exactly one number"
	}
	return "two or more numbers"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func reasons(failed []provider.Unreached) string {
	parts := make([]string, len(failed))
	for i, f := range failed {
		parts[i] = f.Person.Name + ": " + f.Reason
	}
	return strings.Join(parts, "; ")
}

// webPage reports whether a body is an HTML page rather than an API answer.
func webPage(contentType string, body []byte) bool {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil && (mt == "text/html" || mt == "application/xhtml+xml") {
		return true
	}
	head := strings.ToLower(strings.TrimSpace(string(body[:min(len(body), 64)])))
	return strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html")
}
