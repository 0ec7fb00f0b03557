// Package yemotsim is an in-process simulator of Yemot HaMashiach's API for
// tests and the demo. It enforces the documented contract (commands under
// /ym/api/<Command>, the token, HTTP 200 with responseStatus ERROR,
// EXCEPTION or FORBIDDEN for errors, at most 500 numbers a campaign,
// callsTimeOut at most 35), records every request and campaign, and can be
// told to fail. It is safe for concurrent use.
package yemotsim

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"
)

// Config configures a Server.
type Config struct {
	// System and Password make the token "<System>:<Password>" and are the
	// Login username and password. Defaults: "0770000000" and "sim-password".
	System   string
	Password string
	// Wrap, when set, wraps the simulator's handler (to add latency, or to
	// observe requests as they arrive).
	Wrap func(http.Handler) http.Handler
}

// Request is one request the simulator received.
type Request struct {
	Method      string
	Command     string
	ContentType string
	Query       string
	Body        []byte
}

// Campaign is one CallExtensionBridging or RunTzintuk the simulator accepted.
type Campaign struct {
	ID      string
	Command string
	// Form is "json" (phones as a JSON array) or "colon" (":"-separated).
	Form         string
	Phones       []string // the numbers dialled (rejected ones excluded)
	IVRPath      string
	CallerID     string
	CallsTimeOut int
	// Status is the campaignStatus; Entries maps each number to its
	// entryStatus ("dialing" until set).
	Status  string
	Entries map[string]string
}

// Server is a running simulator.
type Server struct {
	cfg     Config
	srv     *httptest.Server
	closing chan struct{}
	once    sync.Once

	mu        sync.Mutex
	sessions  map[string]bool // session token → expired
	seq       int
	requests  []Request
	campaigns []*Campaign
	logins    int
	rejects   map[string]string
	failN     int
	failCode  int
	stallN    int
	answerN   int
	answerAs  answer
}

// New starts a simulator on a loopback port.
func New(cfg Config) *Server {
	if cfg.System == "" {
		cfg.System = "0770000000"
	}
	if cfg.Password == "" {
		cfg.Password = "sim-password"
	}
	s := &Server{
		cfg:      cfg,
		closing:  make(chan struct{}),
		sessions: map[string]bool{},
		rejects:  map[string]string{},
	}
	var h http.Handler = http.HandlerFunc(s.serve)
	if cfg.Wrap != nil {
		h = cfg.Wrap(h)
	}
	s.srv = httptest.NewServer(h)
	return s
}

// URL returns the API base URL, ending in /ym/api.
func (s *Server) URL() string { return s.srv.URL + "/ym/api" }

// Token returns the valid "<system>:<password>" token.
func (s *Server) Token() string { return s.cfg.System + ":" + s.cfg.Password }

// Close stops the server, releasing stalled requests. It is safe twice.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.srv.Close()
	})
}

// FailNext makes the next n requests answer HTTP status code (e.g. 503;
// 429 adds Retry-After: 1).
func (s *Server) FailNext(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failCode = n, code
}

// StallNext makes the next n requests hang until the client gives up or the
// server closes (a timeout).
func (s *Server) StallNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stallN = n
}

// AnswerNext makes the next n commands other than Login answer HTTP 200
// with responseStatus status and message, e.g. ("ERROR", "no units left")
// or ("FORBIDDEN", "session is expired").
func (s *Server) AnswerNext(n int, status, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answerN, s.answerAs = n, fail(status, message)
}

// Reject makes the simulator refuse number (as sent) under `errors` with
// reason ("not Vaild" when empty), as Yemot does with invalid numbers.
func (s *Server) Reject(number, reason string) {
	if reason == "" {
		reason = "not Vaild"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejects[number] = reason
}

// ExpireSessions makes every session token issued so far expired (FORBIDDEN
// "session is expired").
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.sessions {
		s.sessions[k] = true
	}
}

// InvalidateSessions forgets every session token (EXCEPTION "session token
// is invalid").
func (s *Server) InvalidateSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.sessions)
}

// SetEntryStatus sets number's entryStatus (e.g. "bridged" for answered) in
// every campaign that dialled it, and returns how many it changed.
func (s *Server) SetEntryStatus(number, status string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.campaigns {
		if _, ok := c.Entries[number]; ok {
			c.Entries[number] = status
			n++
		}
	}
	return n
}

// SetCampaignStatus sets a campaign's campaignStatus (e.g. "FINISHED").
func (s *Server) SetCampaignStatus(id, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.campaigns {
		if c.ID == id {
			c.Status = status
			return nil
		}
	}
	return fmt.Errorf("set campaign status: no campaign %q", id)
}

// Requests returns a copy of every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Campaigns returns copies of the campaigns (and tzintuks) accepted, in order.
func (s *Server) Campaigns() []Campaign {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Campaign, len(s.campaigns))
	for i, c := range s.campaigns {
		out[i] = *c
		out[i].Phones = slices.Clone(c.Phones)
		out[i].Entries = maps.Clone(c.Entries)
	}
	return out
}

// Logins returns how many successful Logins there were.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// newID returns a campaign id shaped like Yemot's.
func (s *Server) newID() string {
	s.seq++
	return fmt.Sprintf("YA-1-%s-Yemot-%d%06d", s.cfg.System, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), s.seq)
}
