// Package cli is the operator's side of escalator's HTTP API: a client with
// one typed method per endpoint and typed errors that say what to do, and
// the renderers that turn the API's answers into lines for people (aligned
// columns, relative times, colour on a terminal). The commands themselves
// (escalator ls, show, ack, silence, tail …) are in cmd/escalator.
//
// A method returns the decoded answer and its raw JSON: --format json writes
// the raw JSON, so a script sees exactly what the API said, fields this
// client does not know included.
package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/escalator-oss/escalator/internal/engine"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/silence"
)

// DefaultServer is the worker's address when --server and ESCALATOR_SERVER
// are not set: `escalator run`'s default --http-addr.
const DefaultServer = "http://127.0.0.1:8080"

// requestTimeout bounds one request (not an event stream).
const requestTimeout = 30 * time.Second

// maxAnswer bounds an answer's body.
const maxAnswer = 32 << 20

// Client talks to one worker's API. Create it with New.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a client of the worker at server (a URL; "host:port" means
// http://host:port), sending token, when not empty, as a bearer token.
func New(server, token string) (*Client, error) {
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server must be an http:// or https:// URL such as %s, got %q", DefaultServer, redactURL(server))
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	// The stream has no timeout of its own (tail); requests get
	// requestTimeout through their context.
	return &Client{base: u, token: token, http: &http.Client{Transport: http.DefaultTransport}}, nil
}

// Server is the worker's URL as people may see it (a password in it
// redacted).
func (c *Client) Server() string { return c.base.Redacted() }

// redactURL hides a password in s, when s parses as a URL.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}

// ListQuery is what `escalator ls` asks for: GET /v1/escalations.
type ListQuery struct {
	// Status is active (""), acknowledged, ended or all.
	Status string
	Policy string
	// Limit is the page's size (0: the worker's default).
	Limit  int
	Cursor string
}

// List returns a page of escalations, newest first.
func (c *Client) List(ctx context.Context, q ListQuery) (*engine.Page, json.RawMessage, error) {
	v := url.Values{}
	set(v, "status", q.Status)
	set(v, "policy", q.Policy)
	set(v, "cursor", q.Cursor)
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var p engine.Page
	raw, err := c.call(ctx, http.MethodGet, "/v1/escalations", v, nil, &p)
	return &p, raw, err
}

// Show returns one escalation with its timeline; ref is its id, its short
// code or an alert id.
func (c *Client) Show(ctx context.Context, ref string) (*engine.Detail, json.RawMessage, error) {
	var d engine.Detail
	raw, err := c.call(ctx, http.MethodGet, "/v1/escalations/"+url.PathEscape(ref), nil, nil, &d)
	return &d, raw, err
}

// Actions a person may take (Act).
const (
	Ack      = engine.ActAck
	Resolve  = engine.ActResolve
	Escalate = engine.ActEscalate
)

// Act acknowledges, resolves or escalates (kind: Ack, Resolve, Escalate)
// the escalation ref names, as by, with comment, and returns it after.
func (c *Client) Act(ctx context.Context, ref, kind, by, comment string) (*engine.Summary, json.RawMessage, error) {
	body, _ := json.Marshal(map[string]string{"by": by, "comment": comment})
	var s engine.Summary
	raw, err := c.call(ctx, http.MethodPost, "/v1/escalations/"+url.PathEscape(ref)+"/"+kind, nil, body, &s)
	return &s, raw, err
}

// OnCallQuery is what `escalator oncall` asks the worker: GET /v1/oncall.
type OnCallQuery struct {
	Policy, Roster string
	// At is the moment asked about (zero: now, the worker's).
	At time.Time
	// Next is how many hand-offs to list; negative: the worker's default.
	Next int
}

// OnCallAnswer is GET /v1/oncall's answer (api.OnCallAnswer).
type OnCallAnswer struct {
	At      time.Time             `json:"at"`
	Rosters []policy.RosterOnCall `json:"rosters"`
}

// OnCall returns who is on call in the rosters of the policies the worker
// has in force.
func (c *Client) OnCall(ctx context.Context, q OnCallQuery) (*OnCallAnswer, json.RawMessage, error) {
	v := url.Values{}
	set(v, "policy", q.Policy)
	set(v, "roster", q.Roster)
	if !q.At.IsZero() {
		v.Set("at", q.At.Format(time.RFC3339))
	}
	if q.Next >= 0 {
		v.Set("next", strconv.Itoa(q.Next))
	}
	var a OnCallAnswer
	raw, err := c.call(ctx, http.MethodGet, "/v1/oncall", v, nil, &a)
	return &a, raw, err
}

// SilenceAnswer is the answer to making or expiring a silence
// (api.SilenceAnswer): the silence, and how many running escalations it
// quietened or woke.
type SilenceAnswer struct {
	silence.View
	Escalations int `json:"escalations"`
}

// CreateSilence makes a silence.
func (c *Client) CreateSilence(ctx context.Context, r silence.Request) (*SilenceAnswer, json.RawMessage, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, nil, fmt.Errorf("encode silence: %w", err)
	}
	var a SilenceAnswer
	raw, err := c.call(ctx, http.MethodPost, "/v1/silences", nil, body, &a)
	return &a, raw, err
}

// Silences returns the silences the worker keeps, newest first, expired
// ones included.
func (c *Client) Silences(ctx context.Context) ([]silence.View, json.RawMessage, error) {
	var a struct {
		Silences []silence.View `json:"silences"`
	}
	raw, err := c.call(ctx, http.MethodGet, "/v1/silences", nil, nil, &a)
	return a.Silences, raw, err
}

// ExpireSilence ends silence id now.
func (c *Client) ExpireSilence(ctx context.Context, id string) (*SilenceAnswer, json.RawMessage, error) {
	var a SilenceAnswer
	raw, err := c.call(ctx, http.MethodDelete, "/v1/silences/"+url.PathEscape(id), nil, nil, &a)
	return &a, raw, err
}

func set(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}

// url returns the URL of path (escaped already) with query v. It carries
// no credentials: they go in a header, never in a URL that an error may
// print.
func (c *Client) url(path string, v url.Values) string {
	s := c.base.Scheme + "://" + c.base.Host + c.base.EscapedPath() + path
	if q := v.Encode(); q != "" {
		s += "?" + q
	}
	return s
}

// request builds a request to path, with the token.
func (c *Client) request(ctx context.Context, method, path string, v url.Values, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, v), rd)
	if err != nil {
		return nil, fmt.Errorf("make request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	switch {
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case c.base.User != nil:
		if pw, ok := c.base.User.Password(); ok {
			req.SetBasicAuth(c.base.User.Username(), pw)
		}
	}
	return req, nil
}

// call makes one request and decodes a 2xx answer into out; any other
// answer becomes a typed error (errors.go).
func (c *Client) call(ctx context.Context, method, path string, v url.Values, body []byte, out any) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := c.request(ctx, method, path, v, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, c.answerError(resp, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return nil, fmt.Errorf("the worker at %s answered %s %s with something other than its JSON: %v", c.Server(), method, path, err)
	}
	return data, nil
}

// transportError says why a request got no answer: the worker is not
// there, or took too long.
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		return &UnreachableError{Server: c.Server(), Cause: "no answer within " + requestTimeout.String()}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &UnreachableError{Server: c.Server(), Cause: cause(err)}
}

// answerError turns an answer other than 2xx into a typed error.
func (c *Client) answerError(resp *http.Response, data []byte) error {
	var p struct {
		Error  string   `json:"error"`
		Field  string   `json:"field"`
		Status string   `json:"status"`
		IDs    []string `json:"ids"`
	}
	_ = json.Unmarshal(data, &p)
	msg := p.Error
	if msg == "" {
		msg = strings.TrimSpace(string(data))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return &UnauthorizedError{Server: c.Server(), TokenSent: c.token != "" || c.base.User != nil}
	case http.StatusNotFound:
		if msg == "" || strings.HasPrefix(msg, "404 page not found") {
			msg = "the worker does not serve " + resp.Request.URL.Path + " (an older worker?)"
		}
		return &NotFoundError{Msg: msg}
	case http.StatusConflict:
		return &ConflictError{Msg: msg, Status: p.Status, IDs: p.IDs}
	case http.StatusBadRequest:
		return &BadRequestError{Msg: msg, Field: p.Field}
	}
	return &ServerError{Code: resp.StatusCode, Msg: msg}
}
