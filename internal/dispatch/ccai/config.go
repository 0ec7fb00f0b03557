// Package ccai places escalation calls through Google's Contact Center AI
// Platform (CCAI Platform, formerly UJET): an agent's outbound call with
// POST /apps/api/v1/calls ("Voice Outbound (API)"), the next agent when one
// is busy or refuses, and a call queued into a menu ("Voice Inbound (API)")
// when none takes it. Answered detection through the Manager API's call list
// is optional.
//
// An agent takes one call at a time: once a call is assigned, the agent
// answers the next request with the documented 400 "Agent is not available
// to take this call" until that call ends. So the strategies are:
//   - single and broadcast: each person gets the next agent of the list that
//     is not on one of the step's calls and has not refused, then the menu;
//   - rotation: one person at a time; the next is called once the previous
//     call has ended unanswered (read from the Manager API's call list, so
//     it needs answered detection) or its turn (the step's ring) is over,
//     and the rotation stops when someone answers or the escalation ends.
//
// The API documents no way to end a call or to pass one on: stop_on_answer
// and pass_on cannot be honoured, and are refused.
//
// Auth is HTTP Basic: older accounts use the company key as user and the
// company secret as password; current ones use the API credentials created
// under Settings > Developer Settings > API Credentials. Either way they go in
// CompanyKey and CompanySecret.
package ccai

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/dispatch"
	"go.uber.org/zap"
)

// DefaultRatePerSecond is the platform's documented limit: 10 requests a
// second per customer, Apps and Manager APIs together.
const DefaultRatePerSecond = 10

// Config configures a Client.
type Config struct {
	// BaseURL is https://<subdomain>.<domain>; there is no default.
	BaseURL string
	// CompanyKey and CompanySecret are the HTTP Basic user and password.
	CompanyKey    string
	CompanySecret string
	// HTTPClient sends the requests; nil means a client with a 30s timeout.
	HTTPClient *http.Client
	// RatePerSecond bounds the requests sent (the client waits, respecting
	// the context); 0 means DefaultRatePerSecond.
	RatePerSecond float64
	// Logger is scoped with component=ccai; nil means no logging.
	Logger *zap.Logger
	// CheckAnswered enables answered detection through the Manager API's
	// call list (GET /manager/api/v1/calls), via Client.Provider; a
	// rotation needs it to know when a call has ended.
	CheckAnswered bool
	// Clock times a rotation's turns and waits; nil means the wall clock.
	Clock clock.Clock
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.BaseURL)
	if c.BaseURL == "" {
		errs = append(errs, errors.New("ccai: a base URL (https://<subdomain>.<domain>) is required"))
	} else if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, errors.New("ccai: the base URL must be an absolute https URL, e.g. https://acme.ccaiplatform.com"))
	}
	if c.CompanyKey == "" || c.CompanySecret == "" {
		errs = append(errs, errors.New("ccai: the company key and secret (or API credentials) are required"))
	}
	if c.RatePerSecond < 0 {
		errs = append(errs, errors.New("ccai: the rate per second must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.HTTPClient == nil {
		c.HTTPClient = dispatch.NewHTTPClient(nil, 30*time.Second)
	}
	if c.RatePerSecond == 0 {
		c.RatePerSecond = DefaultRatePerSecond
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return c
}
