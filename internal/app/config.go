// Package app wires escalator's parts together and runs them: the embedded
// or external NATS, the streams, the alert consumer, the HTTP server. It
// holds no business rules.
package app

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/escalator-oss/escalator/internal/consumer"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/silence"
)

// Config is everything `escalator run` can be told. Flags and environment
// variables map onto it in cmd/escalator.
type Config struct {
	// NATSURL connects to an existing NATS cluster; empty embeds a server.
	NATSURL string
	// NATSListen is where the embedded server listens for other clients
	// (empty: in-process only).
	NATSListen string
	// DataDir holds the embedded server's JetStream store.
	DataDir string

	// Client auth and TLS for NATSURL.
	NATSCreds, NATSNKey, NATSUser, NATSPassword, NATSToken string
	NATSTLSCA, NATSTLSCert, NATSTLSKey                     string

	// Replicas of streams and buckets (1; 3 on a cluster).
	Replicas int
	// HTTPAddr is the HTTP server's address (empty: no HTTP server).
	HTTPAddr string
	// HTTPToken, when set, is required on every HTTP path but /healthz,
	// /readyz and /metrics.
	HTTPToken string
	// HTTPInsecureNoToken lets HTTPAddr listen beyond loopback without
	// HTTPToken: the API and the intake are then open to whoever can reach
	// them. Without it, Validate refuses that.
	HTTPInsecureNoToken bool
	// Policies is the policy directory or file.
	Policies string

	// Workers process alerts (and, as many again, due wake-ups)
	// concurrently (consumer.DefaultWorkers says why 16).
	Workers int
	// MaxAlertSize bounds one alert event, in bytes.
	MaxAlertSize int
	// DuplicateWindow is how long a retried alert is recognised.
	DuplicateWindow time.Duration
	// ShutdownGrace bounds how long in-flight work may take on shutdown.
	ShutdownGrace time.Duration
	// EscalationRetention is how long an ended escalation's record (and the
	// alert-id index entries that lead to it) stays in the escalations
	// bucket after it ended and its alerts last fired; 0 keeps them for
	// ever. At least the time the ALERTS stream keeps events, so an alert
	// replayed from it still finds its escalation.
	EscalationRetention time.Duration
	// MaxSilence is the longest silence POST /v1/silences accepts.
	MaxSilence time.Duration

	// SimulateProviders runs the IoTCall, Yemot and CCAI simulators on
	// loopback and calls them instead of the real providers.
	SimulateProviders bool
	// MaxCallsPerPersonPerHour caps the calls to one number in any hour
	// (0: unlimited).
	MaxCallsPerPersonPerHour int
	// RepliesEvery is how often providers that read people's replies (text
	// messages back) read them.
	RepliesEvery time.Duration
	// AckWords are the replies that acknowledge (nil: engine.DefaultAckWords).
	AckWords []string
	// Getenv reads the providers' credentials and URLs (nil: os.Getenv).
	Getenv func(string) string
	// ProviderTransport, when set, sends the provider clients' HTTP requests
	// (nil: Go's default transport). Not a flag: the bench sets it to tag
	// each request with its escalation.
	ProviderTransport http.RoundTripper
}

// Defaults returns the configuration `escalator run` starts from.
func Defaults() Config {
	return Config{
		NATSListen:      "127.0.0.1:4222",
		DataDir:         "data",
		Replicas:        1,
		HTTPAddr:        "127.0.0.1:8080",
		Policies:        "policies",
		Workers:         consumer.DefaultWorkers,
		MaxAlertSize:    64 << 10,
		DuplicateWindow: 2 * time.Minute,
		ShutdownGrace:   consumer.DefaultGrace,

		EscalationRetention: 30 * 24 * time.Hour,
		MaxSilence:          silence.DefaultMax,
		RepliesEvery:        10 * time.Second,

		MaxCallsPerPersonPerHour: 20,
	}
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.NATSURL == "" && c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required for the embedded NATS server"))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("--replicas must be 1 to 5, got %d", c.Replicas))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("--workers must be at least 1, got %d", c.Workers))
	}
	if c.MaxAlertSize < 1024 {
		errs = append(errs, fmt.Errorf("--max-alert-size must be at least 1024 bytes, got %d", c.MaxAlertSize))
	}
	if c.DuplicateWindow < time.Second {
		errs = append(errs, fmt.Errorf("--duplicate-window must be at least 1s, got %s", c.DuplicateWindow))
	}
	if c.ShutdownGrace <= 0 {
		errs = append(errs, fmt.Errorf("--shutdown-grace must be positive, got %s", c.ShutdownGrace))
	}
	if c.EscalationRetention < 0 || (c.EscalationRetention > 0 && c.EscalationRetention < natsx.DefaultAlertsMaxAge) {
		errs = append(errs, fmt.Errorf("--escalation-retention must be 0 (keep for ever) or at least %s, how long alert events are kept "+
			"(an alert replayed from the ALERTS stream must still find its escalation), got %s", natsx.DefaultAlertsMaxAge, c.EscalationRetention))
	}
	if c.MaxSilence < time.Minute {
		errs = append(errs, fmt.Errorf("--max-silence must be at least 1m, got %s", c.MaxSilence))
	}
	if c.RepliesEvery < time.Second {
		errs = append(errs, fmt.Errorf("--sms-ack-interval must be at least 1s, got %s", c.RepliesEvery))
	}
	if c.MaxCallsPerPersonPerHour < 0 {
		errs = append(errs, fmt.Errorf("--max-calls-per-person must not be negative, got %d", c.MaxCallsPerPersonPerHour))
	}
	if c.Policies == "" {
		errs = append(errs, errors.New("--policies is required: the worker does not run without policies"))
	}
	if c.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			errs = append(errs, fmt.Errorf("--http-addr %q: want host:port, e.g. 127.0.0.1:8080: %v", c.HTTPAddr, err))
		} else if c.HTTPToken == "" && !c.HTTPInsecureNoToken && !loopbackOnly(c.HTTPAddr) {
			errs = append(errs, fmt.Errorf("--http-addr %q listens beyond loopback and there is no token: anyone who can reach it "+
				"could read escalations (names and phone numbers) and post alerts. Set --http-token (better: ESCALATOR_HTTP_TOKEN), "+
				"or pass --http-insecure-no-token to accept an open API", c.HTTPAddr))
		}
	}
	if c.NATSURL == "" && (c.NATSCreds != "" || c.NATSNKey != "" || c.NATSUser != "" || c.NATSToken != "") {
		errs = append(errs, errors.New("NATS client credentials need --nats-url (the embedded server has no auth)"))
	}
	return errors.Join(errs...)
}

// loopbackOnly reports whether the host:port addr listens on loopback only:
// localhost or a loopback IP (127.0.0.0/8, ::1). An empty host (":8080"),
// 0.0.0.0 and :: listen on every interface; any other name may resolve to
// anything.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c Config) storeDir() string { return filepath.Join(c.DataDir, "jetstream") }

// NewLogger builds the process logger, writing to stderr: format "json"
// (default) or "console", level debug, info, warn or error. Stack traces
// go only with DPanic and above, which are bugs: an error logged for an
// operator (a configuration problem, a part that failed) is its message.
func NewLogger(format, level string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(strings.ToLower(level))); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	var cfg zap.Config
	switch format {
	case "", "json":
		cfg = zap.NewProductionConfig()
		cfg.EncoderConfig.TimeKey = "time"
		cfg.EncoderConfig.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	case "console":
		cfg = zap.NewDevelopmentConfig()
	default:
		return nil, fmt.Errorf("log format %q: want json or console", format)
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	// The configs' own stack traces start at error (production) or warn
	// (development); this one at DPanic.
	cfg.DisableStacktrace = true
	return cfg.Build(zap.AddStacktrace(zapcore.DPanicLevel))
}
