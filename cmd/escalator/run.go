package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/app"
	"github.com/escalator-oss/escalator/internal/engine"
	"github.com/escalator-oss/escalator/internal/memlimit"
)

const runHelp = `Usage: escalator run [flags]

Runs the escalation worker. It takes alert events from NATS (subjects
alerts.>) and over HTTP, matches them to the on-call policies in --policies,
and calls people until someone acknowledges.

With no --nats-url it runs its own NATS server with JetStream, storing data
under --data-dir and listening on --nats-listen so that monitoring systems
and the nats CLI can publish to it. With --nats-url it joins an existing
NATS cluster instead (use --replicas 3 there).

Every flag can also be set by the environment variable shown in brackets;
a flag on the command line wins. Prefer variables for secrets.

With --http-token set, every HTTP path but /healthz, /readyz and /metrics
requires it. An --http-addr beyond loopback (":8080" and "0.0.0.0:8080"
listen on every interface) without a token is refused at start, unless
--http-insecure-no-token says an open API is meant.

Examples:
  escalator run
  ESCALATOR_HTTP_TOKEN=... escalator run --log-format console --http-addr :8080
  ESCALATOR_NATS_URL=nats://nats:4222 escalator run --replicas 3
  escalator run --simulate-providers --policies ./my-policies

Provider credentials come from the environment: IOTCALL_AUTH_CODE,
YEMOT_TOKEN (or YEMOT_USERNAME and YEMOT_PASSWORD), CCAI_COMPANY_KEY and
CCAI_COMPANY_SECRET with CCAI_BASE_URL (each also as <NAME>_FILE). A policy
that uses a provider not configured stops the worker at start.

Flags:
`

// runCommand runs `escalator run`.
func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg := app.Defaults()
	var logFormat, logLevel string
	fs := newEnvFlags("run", stderr)
	fs.StringVar(&cfg.NATSURL, "nats-url", "", "connect to this NATS cluster instead of embedding a server (nats://host:4222,...)")
	fs.StringVar(&cfg.NATSListen, "nats-listen", cfg.NATSListen, "address of the embedded NATS server for other clients; \"\" for in-process only")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "`dir`ectory of the embedded server's JetStream store")
	fs.StringVar(&cfg.NATSCreds, "nats-creds", "", "NATS credentials `file` (JWT and NKey seed)")
	fs.StringVar(&cfg.NATSNKey, "nats-nkey", "", "`file` holding a NATS NKey user seed")
	fs.StringVar(&cfg.NATSUser, "nats-user", "", "NATS user name")
	fs.StringVar(&cfg.NATSPassword, "nats-password", "", "NATS password")
	fs.StringVar(&cfg.NATSToken, "nats-token", "", "NATS token")
	fs.StringVar(&cfg.NATSTLSCA, "nats-tls-ca", "", "CA certificate `file` to trust for NATS TLS")
	fs.StringVar(&cfg.NATSTLSCert, "nats-tls-cert", "", "client certificate `file` for NATS mutual TLS")
	fs.StringVar(&cfg.NATSTLSKey, "nats-tls-key", "", "client key `file` for NATS mutual TLS")
	fs.IntVar(&cfg.Replicas, "replicas", cfg.Replicas, "replicas of streams and buckets: 1 on one server, 3 on a cluster")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "address of the HTTP server (intake, /healthz, /readyz, /metrics); \"\" for none")
	fs.StringVar(&cfg.HTTPToken, "http-token", "", "bearer token every HTTP path but /healthz, /readyz and /metrics requires;\n"+
		"needed to listen beyond loopback (prefer ESCALATOR_HTTP_TOKEN)")
	fs.BoolVar(&cfg.HTTPInsecureNoToken, "http-insecure-no-token", false, "INSECURE: let --http-addr listen beyond loopback without --http-token,\n"+
		"so that anyone who can reach it reads escalations (names, phone numbers) and posts alerts")
	fs.StringVar(&cfg.Policies, "policies", cfg.Policies, "policy `dir`ectory or file")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "alerts processed at once (and as many due wake-ups, and new escalations' first steps being placed)")
	fs.IntVar(&cfg.MaxAlertSize, "max-alert-size", cfg.MaxAlertSize, "largest alert event accepted, in `bytes`")
	fs.DurationVar(&cfg.DuplicateWindow, "duplicate-window", cfg.DuplicateWindow, "how long a retried alert is recognised as a duplicate")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", cfg.ShutdownGrace, "how long in-flight work may take to finish on SIGINT/SIGTERM")
	fs.DurationVar(&cfg.EscalationRetention, "escalation-retention", cfg.EscalationRetention,
		"how long an ended escalation's record is kept after it ended and its alerts last fired (at least 168h; 0 keeps them for ever)")
	fs.DurationVar(&cfg.MaxSilence, "max-silence", cfg.MaxSilence, "the longest silence POST /v1/silences accepts")
	fs.BoolVar(&cfg.SimulateProviders, "simulate-providers", false, "call loopback simulators of IoTCall, Yemot and CCAI instead of the real providers (no real calls)")
	fs.IntVar(&cfg.MaxCallsPerPersonPerHour, "max-calls-per-person", cfg.MaxCallsPerPersonPerHour, "most calls to one number in any hour; 0 for no cap")
	var yemotSMSAck bool
	var ackWords string
	fs.BoolVar(&yemotSMSAck, "yemot-sms-ack", false, "acknowledge an escalation when a person it called texts back an ack word\n"+
		"(read from Yemot's GetSmsIncomingLog); same as YEMOT_SMS_ACK=1")
	fs.DurationVar(&cfg.RepliesEvery, "sms-ack-interval", cfg.RepliesEvery, "how often replies (text messages back) are read")
	fs.StringVar(&ackWords, "sms-ack-words", strings.Join(engine.DefaultAckWords, ","),
		"the replies that acknowledge, comma-separated (case and spaces ignored);\n"+
			"\"<word> <code>\" acknowledges only the escalation of that short code")
	var memoryLimit string
	fs.StringVar(&memoryLimit, "memory-limit", "auto", "the Go runtime's soft memory limit (worker and embedded server): auto (90% of the\n"+
		"container's memory limit, else 360MiB; GOMEMLIMIT when set), off, or a size such as 1GiB")
	fs.StringVar(&logFormat, "log-format", "json", "log format: json or console")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	for flagName, env := range map[string]string{
		"nats-url": "ESCALATOR_NATS_URL", "nats-listen": "ESCALATOR_NATS_LISTEN", "data-dir": "ESCALATOR_DATA_DIR",
		"nats-creds": "ESCALATOR_NATS_CREDS", "nats-nkey": "ESCALATOR_NATS_NKEY", "nats-user": "ESCALATOR_NATS_USER",
		"nats-password": "ESCALATOR_NATS_PASSWORD", "nats-token": "ESCALATOR_NATS_TOKEN",
		"nats-tls-ca": "ESCALATOR_NATS_TLS_CA", "nats-tls-cert": "ESCALATOR_NATS_TLS_CERT", "nats-tls-key": "ESCALATOR_NATS_TLS_KEY",
		"replicas": "ESCALATOR_REPLICAS", "http-addr": "ESCALATOR_HTTP_ADDR", "http-token": "ESCALATOR_HTTP_TOKEN",
		"http-insecure-no-token": "ESCALATOR_HTTP_INSECURE_NO_TOKEN", "policies": "ESCALATOR_POLICIES",
		"workers": "ESCALATOR_WORKERS", "max-alert-size": "ESCALATOR_MAX_ALERT_SIZE",
		"duplicate-window": "ESCALATOR_DUPLICATE_WINDOW", "shutdown-grace": "ESCALATOR_SHUTDOWN_GRACE",
		"escalation-retention": "ESCALATOR_ESCALATION_RETENTION", "max-silence": "ESCALATOR_MAX_SILENCE",
		"simulate-providers":   "ESCALATOR_SIMULATE_PROVIDERS",
		"max-calls-per-person": "ESCALATOR_MAX_CALLS_PER_PERSON", "log-format": "ESCALATOR_LOG_FORMAT",
		"log-level": "ESCALATOR_LOG_LEVEL", "yemot-sms-ack": "YEMOT_SMS_ACK",
		"sms-ack-interval": "ESCALATOR_SMS_ACK_INTERVAL", "sms-ack-words": "ESCALATOR_SMS_ACK_WORDS",
		"memory-limit": "ESCALATOR_MEMORY_LIMIT",
	} {
		fs.bind(flagName, env)
	}
	fs.Usage = func() {
		fmt.Fprint(stdout, runHelp)
		fs.defaults(stdout)
	}
	if err := fs.parse(args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "escalator run: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "escalator run: unexpected argument %q (see escalator run --help)\n", fs.Arg(0))
		return 2
	}
	log, err := app.NewLogger(logFormat, logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "escalator run: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	mem, err := memlimit.Apply(memoryLimit, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "escalator run: %v\n", err)
		return 2
	}
	log.Info("memory limit", zap.Int64("soft_limit_bytes", mem.Bytes), zap.String("from", mem.From))
	cfg.AckWords = splitWords(ackWords)
	cfg.Getenv = getenv
	if yemotSMSAck {
		// The flag sets the provider's own variable.
		cfg.Getenv = func(k string) string {
			if k == "YEMOT_SMS_ACK" {
				return "true"
			}
			return getenv(k)
		}
	}
	a, err := app.New(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "escalator run: %v\n", err)
		return 2
	}
	if err := a.Run(ctx); err != nil {
		log.Error("escalator stopped with an error", zap.Error(err))
		// The reason again, last and plain, for whoever reads the terminal
		// or the journal rather than the structured log.
		fmt.Fprintf(stderr, "escalator run: %v\n", err)
		return 1
	}
	return 0
}

// splitWords reads a comma-separated list, dropping empty items.
func splitWords(s string) []string {
	var out []string
	for _, w := range strings.Split(s, ",") {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}
