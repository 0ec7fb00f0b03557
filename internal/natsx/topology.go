package natsx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names on the wire. Subjects are documented in the README; stream, consumer
// and bucket names are what an operator sees in `nats stream ls`.
const (
	// StreamAlerts captures alert events published under SubjectAlerts.
	StreamAlerts  = "ALERTS"
	SubjectAlerts = "alerts.>"
	// StreamDead keeps rejected input published under escalator.dead.<reason>.
	StreamDead      = "ESCALATOR_DEAD"
	SubjectDead     = "escalator.dead.>"
	SubjectDeadRoot = "escalator.dead"
	// ConsumerAlerts is the durable pull consumer every worker shares.
	ConsumerAlerts = "escalator-alerts"
	// BucketDedup remembers recently seen alert events (id, status, time) for
	// the duplicate window, for events published without a Nats-Msg-Id.
	BucketDedup = "escalator_dedup"
)

// Topology sets what Ensure creates.
type Topology struct {
	// Replicas of every stream and bucket: 1 on one server, 3 on a cluster.
	Replicas int
	// DuplicateWindow is how long a retried alert is recognised (default 2m).
	DuplicateWindow time.Duration
	// AlertsMaxAge is how long alert events are kept (default 7 days).
	AlertsMaxAge time.Duration
	// DeadMaxAge is how long rejected input is kept (default 30 days).
	DeadMaxAge time.Duration
	// MaxDeliver bounds redeliveries of one alert (default 5).
	MaxDeliver int
	// AckWait is how long a delivery may stay unacknowledged (default 30s).
	AckWait time.Duration
	// DueAckWait is AckWait for the due wake-ups (default DefaultDueAckWait):
	// a wake-up whose worker died is delivered again that long after the
	// worker last said it was still at work on it.
	DueAckWait time.Duration
	// MaxAckPending bounds the alerts in flight across workers (default 1000).
	MaxAckPending int
}

// DefaultDueAckWait is the due wake-ups' ack wait. A worker at work on a
// wake-up (placing a step: ringing people may take minutes) tells the
// server so every third of it; a worker that died stops telling, and its
// wake-up goes to another worker within this much, which places the step
// again once its lease (engine.DefaultLeaseTTL) has run out. Short, so that
// a step is not late by more than about ten seconds when its worker dies.
const DefaultDueAckWait = 6 * time.Second

// DefaultAlertsMaxAge is how long the ALERTS stream keeps alert events.
const DefaultAlertsMaxAge = 7 * 24 * time.Hour

func (t Topology) withDefaults() Topology {
	if t.Replicas <= 0 {
		t.Replicas = 1
	}
	if t.DuplicateWindow <= 0 {
		t.DuplicateWindow = 2 * time.Minute
	}
	if t.AlertsMaxAge <= 0 {
		t.AlertsMaxAge = DefaultAlertsMaxAge
	}
	if t.DeadMaxAge <= 0 {
		t.DeadMaxAge = 30 * 24 * time.Hour
	}
	if t.MaxDeliver <= 0 {
		t.MaxDeliver = 5
	}
	if t.AckWait <= 0 {
		t.AckWait = 30 * time.Second
	}
	if t.DueAckWait <= 0 {
		t.DueAckWait = DefaultDueAckWait
	}
	if t.MaxAckPending <= 0 {
		t.MaxAckPending = 1000
	}
	return t
}

// AlertsStreamConfig is the ALERTS stream's configuration.
func (t Topology) AlertsStreamConfig() jetstream.StreamConfig {
	t = t.withDefaults()
	return jetstream.StreamConfig{
		Name:        StreamAlerts,
		Description: "alert events in (alerts.<source>)",
		Subjects:    []string{SubjectAlerts},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      t.AlertsMaxAge,
		Duplicates:  t.DuplicateWindow,
		Replicas:    t.Replicas,
		Discard:     jetstream.DiscardOld,
	}
}

// AlertsConsumerConfig is the shared durable pull consumer of ALERTS.
func (t Topology) AlertsConsumerConfig() jetstream.ConsumerConfig {
	t = t.withDefaults()
	return jetstream.ConsumerConfig{
		Durable:       ConsumerAlerts,
		Description:   "escalator workers",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       t.AckWait,
		MaxDeliver:    t.MaxDeliver,
		MaxAckPending: t.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: SubjectAlerts,
		Replicas:      t.Replicas,
	}
}

// Ensure creates or updates every stream, consumer and bucket escalator needs.
// It is idempotent, and safe when several workers start at once.
func Ensure(ctx context.Context, js jetstream.JetStream, t Topology) error {
	t = t.withDefaults()
	return objects{
		streams: []jetstream.StreamConfig{
			t.AlertsStreamConfig(),
			{
				Name:        StreamDead,
				Description: "rejected input (escalator.dead.<reason>), original bytes with the reason in headers",
				Subjects:    []string{SubjectDead},
				Storage:     jetstream.FileStorage,
				MaxAge:      t.DeadMaxAge,
				Replicas:    t.Replicas,
			},
		},
		consumers: []streamConsumer{{StreamAlerts, t.AlertsConsumerConfig()}},
		buckets: []jetstream.KeyValueConfig{{
			Bucket:      BucketDedup,
			Description: "recently seen alert events, for deduplication",
			TTL:         t.DuplicateWindow,
			Storage:     jetstream.FileStorage,
			Replicas:    t.Replicas,
		}},
	}.apply(ctx, js)
}

// objects are JetStream objects to create or update, in order: streams,
// then their consumers, then KV buckets.
type objects struct {
	streams   []jetstream.StreamConfig
	consumers []streamConsumer
	buckets   []jetstream.KeyValueConfig
}

type streamConsumer struct {
	stream string
	cfg    jetstream.ConsumerConfig
}

func (o objects) apply(ctx context.Context, js jetstream.JetStream) error {
	for _, sc := range o.streams {
		if err := retryConflict(ctx, func() error {
			_, err := js.CreateOrUpdateStream(ctx, sc)
			return err
		}); err != nil {
			return fmt.Errorf("ensure stream %s: %w", sc.Name, err)
		}
	}
	for _, c := range o.consumers {
		if err := retryConflict(ctx, func() error {
			_, err := js.CreateOrUpdateConsumer(ctx, c.stream, c.cfg)
			return err
		}); err != nil {
			return fmt.Errorf("ensure consumer %s: %w", c.cfg.Durable, err)
		}
	}
	for _, kc := range o.buckets {
		if err := retryConflict(ctx, func() error {
			_, err := js.CreateOrUpdateKeyValue(ctx, kc)
			return err
		}); err != nil {
			return fmt.Errorf("ensure bucket %s: %w", kc.Bucket, err)
		}
	}
	return nil
}

// retryConflict runs f again a few times when another worker created the same
// object between our look-up and our create.
func retryConflict(ctx context.Context, f func() error) error {
	var err error
	for i := 0; i < 5; i++ {
		if err = f(); err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) && !errors.Is(err, jetstream.ErrConsumerExists) &&
			!errors.Is(err, jetstream.ErrBucketExists) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(i+1) * 50 * time.Millisecond):
		}
	}
	return err
}
