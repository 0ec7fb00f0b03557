// Package ccaisim is an in-process simulator of CCAI Platform's Apps API
// call creation (POST /apps/api/v1/calls) and the Manager API's call list,
// for tests and the demo. It enforces the documented contract — method, path,
// HTTP Basic auth, JSON body, call types, the 400 messages of the reference,
// 404 for unknown paths, 10 requests a second (429) — records every call, and
// can be told to fail, to redirect, or to answer a 2xx that is not the
// documented call object.
//
// An agent takes one call at a time: a created outbound call makes its agent
// busy (status assigned, then connecting) until the call ends — failed with
// a fail_reason, or finished after it was connected — and meanwhile another
// call for that agent gets the documented 400 "Agent is not available to take
// this call". A call nobody answers ends by itself, failed with eu_no_answer,
// Config.NoAnswerAfter after it was created on the simulator's clock; tests
// end calls themselves with AnswerCall and EndCall. The Manager API's list
// shows each call's status as it is. It is safe for concurrent use.
package ccaisim

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/escalator-oss/escalator/internal/clock"
)

// AgentState is how an agent answers an outbound call request.
type AgentState int

// Agent states.
const (
	// Available agents get the call: 201.
	Available AgentState = iota
	// Unavailable agents: 400 "Agent is not available to take this call".
	Unavailable
	// Widget agents must act in their widget first: 202.
	Widget
	// NoAccess agents: 400 "Agent does not have access to make calls".
	NoAccess
)

// Menu states for inbound calls.
const (
	MenuOpen              = ""
	MenuManualRedirection = "manual redirection"
	MenuAfterHours        = "after hours"
)

// Config configures a Server.
type Config struct {
	// Key and Secret are the Basic auth user and password. Defaults:
	// "sim-key" and "sim-secret".
	Key, Secret string
	// RatePerSecond is the limit beyond which requests get 429 (0: 10).
	RatePerSecond int
	// Clock times the rate limit and the calls' course; nil means the wall
	// clock.
	Clock clock.Clock
	// NoAnswerAfter is how long a created call rings before it ends by
	// itself unanswered (failed, fail_reason eu_no_answer), freeing its
	// agent: 0 means DefaultNoAnswerAfter; negative means never (a test ends
	// each call with AnswerCall or EndCall).
	NoAnswerAfter time.Duration
	// Wrap, when set, wraps the simulator's handler (to add latency, or to
	// observe requests as they arrive).
	Wrap func(http.Handler) http.Handler
}

// DefaultNoAnswerAfter is how long a simulated call rings, unless
// Config.NoAnswerAfter says otherwise, before it ends unanswered.
const DefaultNoAnswerAfter = 20 * time.Second

// Call is one call the simulator created.
type Call struct {
	ID             int
	CallType       string
	AgentEmail     string
	EndUserNumber  string
	MenuID         int
	OutboundNumber string
	Lang           string
	Status         string // assigned, queued, connecting, connected, finished, failed
	FailReason     string
	// Created is when it was created, on the simulator's clock.
	Created time.Time
}

// Request is one request the simulator received (never its credentials).
type Request struct {
	Method, Path, ContentType string
	Body                      []byte
}

type menu struct {
	kind  string // ivr_menu, mobile_menu, web_menu
	state string
}

// Server is a running simulator.
type Server struct {
	cfg     Config
	srv     *httptest.Server
	closing chan struct{}
	once    sync.Once

	mu       sync.Mutex
	agents   map[string]AgentState
	busy     map[string]int // agent → the call they are on
	menus    map[int]menu
	calls    []*Call
	history  []Event
	changed  chan struct{} // closed and replaced at each call event
	requests []Request
	tokens   float64   // the rate limit's bucket
	last     time.Time // when tokens was last refilled
	failN    int
	failCode int
	stallN   int
	canned   []canned        // answers given instead of the API's, in order
	refused  map[string]bool // end_user_numbers the platform refuses
}

// canned is an answer the simulator gives instead of the API's: a redirect
// or a body that is not the documented one.
type canned struct {
	code        int
	contentType string
	body        string
	location    string
}

// New starts a simulator on a loopback port.
func New(cfg Config) *Server {
	if cfg.Key == "" {
		cfg.Key = "sim-key"
	}
	if cfg.Secret == "" {
		cfg.Secret = "sim-secret"
	}
	if cfg.RatePerSecond == 0 {
		cfg.RatePerSecond = 10
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.NoAnswerAfter == 0 {
		cfg.NoAnswerAfter = DefaultNoAnswerAfter
	}
	s := &Server{cfg: cfg, closing: make(chan struct{}), agents: map[string]AgentState{}, busy: map[string]int{},
		menus: map[int]menu{}, changed: make(chan struct{})}
	h := s.handler()
	if cfg.Wrap != nil {
		h = cfg.Wrap(h)
	}
	s.srv = httptest.NewServer(h)
	return s
}

// URL returns the base URL, standing for https://<subdomain>.<domain>.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server, releasing stalled requests. It is safe twice.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.srv.Close()
	})
}

// SetAgent adds or updates an agent.
func (s *Server) SetAgent(email string, st AgentState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.agents[email] = st
}

// RefuseNumber makes the platform refuse calls to number (E.164, as sent
// in end_user_number) with the 400 it gives a malformed one, as it may for
// a number it cannot dial though the number parses (a destination the
// account may not call).
func (s *Server) RefuseNumber(number string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused == nil {
		s.refused = map[string]bool{}
	}
	s.refused[number] = true
}

// SetMenu adds or updates a menu: kind is ivr_menu, mobile_menu or
// web_menu; state is MenuOpen, MenuManualRedirection or MenuAfterHours.
func (s *Server) SetMenu(id int, kind, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.menus[id] = menu{kind: kind, state: state}
}

// FailNext makes the next n requests answer HTTP status code (429 adds
// Retry-After: 1).
func (s *Server) FailNext(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failCode = n, code
}

// RedirectNext makes the next n requests answer 302 Found to location, as
// a proxy or a single sign-on page in front of a wrong base URL would; the
// simulator serves GET /login as such a page (200, HTML).
func (s *Server) RedirectNext(n int, location string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.canned = append(s.canned, canned{code: http.StatusFound, location: location,
			contentType: "text/html", body: `<a href="` + location + `">Found</a>`})
	}
}

// AnswerNext makes the next n requests answer code with body of
// contentType instead of the API's answer (a 200 with HTML, a 201 that is
// not a call object ...), creating nothing.
func (s *Server) AnswerNext(n, code int, contentType, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.canned = append(s.canned, canned{code: code, contentType: contentType, body: body})
	}
}

// StallNext makes the next n requests hang until the client gives up or the
// server closes.
func (s *Server) StallNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stallN = n
}

// Calls returns copies of the calls created, in order, with their status
// now.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick()
	return s.copyCalls()
}

func (s *Server) copyCalls() []Call {
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = *c
	}
	return out
}

// Requests returns every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// overLimit takes a token from the rate limit's bucket (RatePerSecond a
// second, as many at most) at now, and reports whether there was none.
func (s *Server) overLimit(now time.Time) bool {
	limit := float64(s.cfg.RatePerSecond)
	if s.last.IsZero() {
		s.tokens = limit
	} else if d := now.Sub(s.last); d > 0 {
		s.tokens = min(limit, s.tokens+d.Seconds()*limit)
	}
	s.last = now
	if s.tokens < 1 {
		return true
	}
	s.tokens--
	return false
}
