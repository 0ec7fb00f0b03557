// Package yemotsim is an in-process simulator of Yemot HaMashiach's API for
// tests and the demo. It enforces the documented contract (commands under
// /ym/api/<Command>, the token, each command's parameters by their exact
// names, HTTP 200 with responseStatus ERROR, EXCEPTION or FORBIDDEN for
// errors, at most 500 numbers a campaign, callsTimeOut at most 35), records
// every request and campaign, lets the calls of a campaign end answered or
// not (by themselves when their ring time is over, on the simulator's
// clock, unless a test decides), keeps a log of incoming text messages
// (GetSmsIncomingLog), and can be told to fail. It is safe for concurrent
// use.
package yemotsim

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/escalator-oss/escalator/internal/clock"
)

// Config configures a Server.
type Config struct {
	// System and Password make the token "<System>:<Password>" and are the
	// Login username and password. Defaults: "0770000000" and "sim-password".
	System   string
	Password string
	// Clock is the simulator's time: when a campaign's calls end, when a
	// text message arrives. nil: the wall clock.
	Clock clock.Clock
	// SMSNumber is the number people text (a row's dest), as the log shows
	// numbers: international digits. Default: System in that form
	// ("972770000000").
	SMSNumber string
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
	CallsTimeOut int // the ring time in seconds (a tzintuk's TzintukTimeOut)
	// Started is when the simulator accepted it, on its clock.
	Started time.Time
	// Status is the campaignStatus: RUNNING until every call has ended,
	// then FINISHED (unless SetCampaignStatus said otherwise).
	Status string
	// Entries maps each number to its entryStatus: "dialing" while it
	// rings, "bridged" once answered, "no_answer" when its ring time is
	// over unanswered, or what SetEntryStatus set.
	Entries map[string]string
}

// Response is a raw HTTP answer for RespondNext.
type Response struct {
	Code   int
	Header http.Header
	Body   string
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
	campaigns []*campaign
	logins    int
	rejects   map[string]string
	answers   map[string]time.Duration // number → how soon it answers future campaigns
	failN     int
	failCode  int
	stallN    int
	answerN   int
	answerAs  answer
	raw       []Response // answered next, in order, before anything else
	sms       []SMS
	smsText   bool // serve dest and phone as JSON strings instead of numbers
}

// New starts a simulator on a loopback port.
func New(cfg Config) *Server {
	if cfg.System == "" {
		cfg.System = "0770000000"
	}
	if cfg.Password == "" {
		cfg.Password = "sim-password"
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.SMSNumber == "" {
		cfg.SMSNumber = international(cfg.System)
	}
	s := &Server{
		cfg:      cfg,
		closing:  make(chan struct{}),
		sessions: map[string]bool{},
		rejects:  map[string]string{},
		answers:  map[string]time.Duration{},
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

// RespondNext makes the next requests answer r, one each, in order, whatever
// they ask: what something between the client and Yemot might send (a
// login or maintenance page with 200, an empty 204, JSON of another shape).
// Nothing is run.
func (s *Server) RespondNext(r ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw = append(s.raw, r...)
}

// RedirectNext makes the next n requests answer 302 Found to location (a
// proxy sending the client to a login page).
func (s *Server) RedirectNext(n int, location string) {
	for range n {
		s.RespondNext(Response{Code: http.StatusFound, Header: http.Header{"Location": {location}},
			Body: "<html>moved</html>"})
	}
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

// WillAnswer makes number (as sent) answer every campaign started from now
// on that calls it, after ringing for after (on the simulator's clock): its
// entry turns "bridged" then, unless the ring time is over first. A
// negative after undoes it.
func (s *Server) WillAnswer(number string, after time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if after < 0 {
		delete(s.answers, number)
		return
	}
	s.answers[number] = after
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

// SetEntryStatus sets number's entryStatus (e.g. "bridged" for answered,
// "no_answer", "busy") in every CallExtensionBridging campaign that
// dialled it, for good, and returns how many it changed. (A tzintuk cannot
// be answered.)
func (s *Server) SetEntryStatus(number, status string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.campaigns {
		if c.Command != bridging || !slices.Contains(c.Phones, number) {
			continue
		}
		c.set[number] = status
		n++
	}
	return n
}

// SetCampaignStatus sets a campaign's campaignStatus (e.g. "FINISHED"), for
// good.
func (s *Server) SetCampaignStatus(id, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.campaigns {
		if c.ID == id {
			c.statusSet = status
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

// Campaigns returns the campaigns (and tzintuks) accepted, in order, as
// they are now.
func (s *Server) Campaigns() []Campaign {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Clock.Now()
	out := make([]Campaign, len(s.campaigns))
	for i, c := range s.campaigns {
		out[i] = c.at(now)
		out[i].Phones = slices.Clone(c.Phones)
		out[i].Entries = maps.Clone(out[i].Entries)
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
