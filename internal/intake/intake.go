// Package intake turns HTTP webhooks into alert events stored in JetStream:
// escalator's own schema, Prometheus Alertmanager and Grafana webhooks, the
// PagerDuty Events API v2, and acknowledgements. It answers 202 only once an
// event is stored, so senders that retry on 5xx (Alertmanager does) never
// lose one. It knows nothing of policies or providers.
package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/httpauth"
	"github.com/escalator-oss/escalator/internal/metrics"
)

// Subjects the HTTP intake publishes to.
const (
	SubjectHTTP         = "alerts.http"
	SubjectAlertmanager = "alerts.alertmanager"
	SubjectGrafana      = "alerts.grafana"
	SubjectPagerDuty    = "alerts.pagerduty"
)

// DefaultMaxBody is the default limit of a request body (1 MiB).
const DefaultMaxBody = 1 << 20

// Publisher stores an event in JetStream.
type Publisher interface {
	// Publish stores ev on subject and returns once JetStream acknowledged it.
	// duplicate is true when JetStream recognised a retry of a stored event.
	Publish(ctx context.Context, subject string, ev alert.Event) (duplicate bool, err error)
}

// JetStreamPublisher publishes events with a Nats-Msg-Id derived from the
// event (MsgID), so a sender's retry within the duplicate window is stored once.
type JetStreamPublisher struct {
	JS jetstream.JetStream
}

// Publish implements Publisher.
func (p JetStreamPublisher) Publish(ctx context.Context, subject string, ev alert.Event) (bool, error) {
	data, err := ev.MarshalJSON()
	if err != nil {
		return false, err
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set("Content-Type", "application/json")
	ack, err := p.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(MsgID(ev)))
	if err != nil {
		return false, err
	}
	return ack.Duplicate, nil
}

// MsgID is the Nats-Msg-Id of an event sent over HTTP: a hash of its id,
// status, time and acknowledger. A retry of the same request has the same one.
func MsgID(ev alert.Event) string {
	h := sha256.New()
	for _, s := range []string{ev.ID, string(ev.Status), ev.At.UTC().Format(time.RFC3339Nano), ev.By} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "http-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// Config configures the intake handlers.
type Config struct {
	Publisher Publisher
	// Token, when set, is required as "Authorization: Bearer <token>" (or as
	// the password of HTTP Basic auth, for senders that can only put it in the URL).
	Token string
	// MaxBody bounds a request body (default DefaultMaxBody).
	MaxBody int64
	// MaxEventSize bounds one event (default alert.DefaultMaxSize), as on NATS.
	MaxEventSize int
	// PublishTimeout bounds the wait for JetStream to store (default 5s).
	PublishTimeout time.Duration
	// Now returns the time (default time.Now); acks without a time get it.
	Now     func() time.Time
	Logger  *zap.Logger
	Metrics *metrics.Alerts
}

// Intake serves the HTTP intake endpoints.
type Intake struct {
	cfg Config
	log *zap.Logger
}

// New returns the intake handlers for cfg.
func New(cfg Config) (*Intake, error) {
	if cfg.Publisher == nil {
		return nil, errors.New("new intake: a Publisher is required")
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxEventSize <= 0 {
		cfg.MaxEventSize = alert.DefaultMaxSize
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewAlerts(nil)
	}
	return &Intake{cfg: cfg, log: cfg.Logger.With(zap.String("component", "intake"))}, nil
}

// Register adds the intake routes to mux.
func (in *Intake) Register(mux *http.ServeMux) {
	mux.Handle("POST /v1/alerts", in.guard(in.native))
	mux.Handle("POST /v1/alerts/{id}/ack", in.guard(in.ack))
	mux.Handle("POST /v1/alertmanager", in.guard(in.alertmanager))
	mux.Handle("POST /v2/enqueue", in.guard(in.pagerduty))
}

// guard checks the token and bounds the body.
func (in *Intake) guard(h http.HandlerFunc) http.Handler {
	return httpauth.Token(in.cfg.Token).Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, in.cfg.MaxBody)
		h(w, r)
	}))
}
