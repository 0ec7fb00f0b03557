// Package ccaisim is an in-process simulator of CCAI Platform's Apps API
// call creation (POST /apps/api/v1/calls) and the Manager API's call list,
// for tests and the demo. It enforces the documented contract — method, path,
// HTTP Basic auth, JSON body, call types, the 400 messages of the reference,
// 404 for unknown paths, 10 requests a second (429) — records every call, and
// can be told to fail. It is safe for concurrent use.
package ccaisim

import (
	"fmt"
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
	// Clock times the rate limit; nil means the wall clock.
	Clock clock.Clock
	// Wrap, when set, wraps the simulator's handler (to add latency, or to
	// observe requests as they arrive).
	Wrap func(http.Handler) http.Handler
}

// Call is one call the simulator created.
type Call struct {
	ID             int
	CallType       string
	AgentEmail     string
	EndUserNumber  string
	MenuID         int
	OutboundNumber string
	Lang           string
	Status         string // assigned, queued, connected, finished, failed, ...
	FailReason     string
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
	menus    map[int]menu
	calls    []*Call
	requests []Request
	tokens   float64   // the rate limit's bucket
	last     time.Time // when tokens was last refilled
	failN    int
	failCode int
	stallN   int
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
	s := &Server{cfg: cfg, closing: make(chan struct{}), agents: map[string]AgentState{}, menus: map[int]menu{}}
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

// SetMenu adds or updates a menu: kind is ivr_menu, mobile_menu or
// web_menu; state is MenuOpen, MenuManualRedirection or MenuAfterHours.
func (s *Server) SetMenu(id int, kind, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.menus[id] = menu{kind: kind, state: state}
}

// SetCallStatus sets a call's status (and fail_reason, for failed), as the
// Manager API's call list then shows it.
func (s *Server) SetCallStatus(id int, status, failReason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if c.ID == id {
			c.Status, c.FailReason = status, failReason
			return nil
		}
	}
	return fmt.Errorf("set call status: no call %d", id)
}

// FailNext makes the next n requests answer HTTP status code (429 adds
// Retry-After: 1).
func (s *Server) FailNext(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failCode = n, code
}

// StallNext makes the next n requests hang until the client gives up or the
// server closes.
func (s *Server) StallNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stallN = n
}

// Calls returns copies of the calls created, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
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
