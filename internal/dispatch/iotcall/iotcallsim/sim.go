// Package iotcallsim is an in-process IoTCall server for tests and the demo.
// It enforces the API manual's contract (../shared/seeds/iotcall-api.ja.txt):
// methods and paths, the raw Authorization header, the PUT's content type
// and its four fields for every number from index 0, and the call type's
// number count at call time. It records every request and every call placed,
// and can be told to fail.
//
// Where the manual is silent (status codes, response bodies), the simulator
// picks plausible ones, marked "undocumented" below; clients must not rely
// on them beyond "2xx = accepted".
package iotcallsim

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// RuleType is a rule's call type (発信種別), fixed in IoTCall's dashboard.
type RuleType int

// The call types.
const (
	// Normal (通常) calls exactly one number.
	Normal RuleType = iota
	// Broadcast (一斉) calls every number at once.
	Broadcast
	// BroadcastStopOnAnswer (一斉(誰か受電したら終了)) stops when anyone answers.
	BroadcastStopOnAnswer
	// Rotation (輪番) calls one after another until someone answers.
	Rotation
	// RotationPassOn (輪番(「9」で次へ)) lets the one who answers pass it on.
	RotationPassOn
)

// Entry is one number on a rule's list.
type Entry struct {
	Tel      string `json:"tel"`
	Group    int    `json:"group"`
	Check    int    `json:"check"`
	PrefixID int    `json:"international_prefix_id"`
}

// Request is one request the simulator received (the Authorization header
// is left out of Header; AuthOK says whether it matched).
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   string
	AuthOK bool
}

// Call is one firing of a rule that the simulator accepted.
type Call struct {
	Rule string
	Type RuleType
	// Tels are the numbers with check=1, in list order: the ones rung.
	Tels []string
}

// Sim is the simulator, an http.Handler. Safe for concurrent use.
type Sim struct {
	auth string

	mu       sync.Mutex
	rules    map[string]*rule
	requests []Request
	calls    []Call
	faults   []fault
	hook     func(Request)
	closed   chan struct{}
}

type rule struct {
	typ  RuleType
	tels []Entry
}

type fault struct {
	status     int
	retryAfter time.Duration
	hang       bool
}

// New returns a simulator that accepts authCode. Add rules with AddRule.
func New(authCode string) *Sim {
	return &Sim{auth: authCode, rules: make(map[string]*rule), closed: make(chan struct{})}
}

// Server is a Sim listening on a loopback httptest server.
type Server struct {
	*Sim
	HTTP *httptest.Server
}

// NewServer starts a simulator accepting authCode on a loopback port.
func NewServer(authCode string) *Server {
	s := New(authCode)
	return &Server{Sim: s, HTTP: httptest.NewServer(s)}
}

// URL is the base URL to give the client.
func (s *Server) URL() string { return s.HTTP.URL }

// Close releases hanging requests and stops the server.
func (s *Server) Close() {
	s.Sim.Close()
	s.HTTP.Close()
}

// Close releases requests that hang (HangNext). Safe to call twice.
func (s *Sim) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
}

// AddRule creates (or resets) the rule with URL key key and call type typ,
// with an empty number list.
func (s *Sim) AddRule(key string, typ RuleType) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules[key] = &rule{typ: typ}
}

// Tels returns the rule's current number list.
func (s *Sim) Tels(key string) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.rules[key]; ok {
		return append([]Entry(nil), r.tels...)
	}
	return nil
}

// Requests returns every request received, in arrival order.
func (s *Sim) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Calls returns every call placed, in order.
func (s *Sim) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// FailNext answers the next n requests with status (e.g. 503).
func (s *Sim) FailNext(n, status int) { s.inject(n, fault{status: status}) }

// ThrottleNext answers the next n requests with 429 Too Many Requests and
// Retry-After in whole seconds.
func (s *Sim) ThrottleNext(n int, retryAfter time.Duration) {
	s.inject(n, fault{status: http.StatusTooManyRequests, retryAfter: retryAfter})
}

// HangNext makes the next n requests hang until the client gives up (its
// request context ends) or the simulator is closed.
func (s *Sim) HangNext(n int) { s.inject(n, fault{hang: true}) }

// Heal ends an outage: the faults still queued are dropped.
func (s *Sim) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Sim) inject(n int, f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// SetHook sets a function called with every request after it took effect
// (a PUT's list is replaced, a call is placed) and before it is answered
// (nil: none). Tests use it to hold a response back.
func (s *Sim) SetHook(h func(Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = h
}
