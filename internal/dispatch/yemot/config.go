// Package yemot places escalation calls through Yemot HaMashiach's IVR API
// (call2all.co.il): CallExtensionBridging campaigns whose answered calls are
// put into an extension of the customer's IVR, an optional RunTzintuk "ping",
// optional answered detection with GetCampaignStatus (which a rotation needs
// to stop when someone answers), and optionally people's text-message
// replies read from GetSmsIncomingLog (a dispatch.Acknowledger).
//
// Every command is sent as POST with a JSON body (Content-Type:
// application/json), so that the token never appears in a URL, and so in no
// url.Error either.
package yemot

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/dispatch"
)

// DefaultBaseURL is Yemot's API root; commands are <DefaultBaseURL>/<Command>.
const DefaultBaseURL = "https://www.call2all.co.il/ym/api"

// MaxPhones is the most numbers one campaign may hold (the manual's limit).
const MaxPhones = 500

// MaxRing is the longest ring time (callsTimeOut) Yemot accepts.
const MaxRing = 35 * time.Second

// defaultRing is Yemot's default callsTimeOut, used as a rotation's spacing
// when the step sets no ring time.
const defaultRing = 30 * time.Second

// Config configures a Client. Either Token, or Username and Password, is set.
type Config struct {
	// BaseURL is the API root, ending in /ym/api; empty means DefaultBaseURL.
	BaseURL string
	// Token is used as is: "<system number>:<password>" or a session token.
	Token string
	// Username (the system number) and Password obtain a session token with
	// Login when Token is empty; the client logs in again once when Yemot
	// says the session is invalid or expired.
	Username string
	Password string
	// HTTPClient sends the requests; nil means a client with a 30s timeout.
	// Per-request deadlines normally come from the caller's context.
	HTTPClient *http.Client
	// Clock spaces a rotation's campaigns; nil means the wall clock.
	Clock clock.Clock
	// Logger is scoped with component=yemot; nil means no logging.
	Logger *zap.Logger
	// CheckAnswered enables answered detection (GetCampaignStatus) through
	// the dispatch.AnswerChecker returned by Client.Provider; a rotation
	// needs it to stop when someone answers.
	CheckAnswered bool
	// SMSAck makes the provider returned by Client.Provider a
	// dispatch.Acknowledger reading the incoming text messages
	// (GetSmsIncomingLog) as replies.
	SMSAck bool
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, errors.New("yemot: base URL must be an absolute http(s) URL"))
		}
	}
	switch {
	case c.Token != "" && (c.Username != "" || c.Password != ""):
		errs = append(errs, errors.New("yemot: set either a token or a username and password, not both"))
	case c.Token == "" && (c.Username == "" || c.Password == ""):
		errs = append(errs, errors.New("yemot: a token, or a username and password, is required"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.HTTPClient == nil {
		c.HTTPClient = dispatch.NewHTTPClient(nil, 30*time.Second)
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// ringSeconds converts a step's ring time to callsTimeOut seconds: 0 when
// unset (Yemot's default applies), at most 35.
func ringSeconds(d time.Duration) (int, error) {
	if d < 0 {
		return 0, fmt.Errorf("check ring: %s is negative", d)
	}
	if d > MaxRing {
		return 0, fmt.Errorf("check ring: %s exceeds Yemot's maximum of %s", d, MaxRing)
	}
	s := int((d + time.Second - 1) / time.Second)
	return s, nil
}
