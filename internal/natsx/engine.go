package natsx

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names of the engine's streams, consumer and buckets.
const (
	// StreamTimers holds durable wake-ups: a schedule per escalation on
	// escalator.timer.<key> that the server fires onto escalator.due.<key>,
	// and immediate "run this step" messages on escalator.due.<key>.
	StreamTimers      = "ESCALATION_TIMERS"
	SubjectTimerRoot  = "escalator.timer"
	SubjectDueRoot    = "escalator.due"
	SubjectDue        = "escalator.due.>"
	ConsumerDue       = "escalator-due"
	StreamOutcomes    = "ESCALATIONS"
	SubjectOutcomes   = "escalations.>"
	SubjectOutcomeFmt = "escalations.%s.%s"
	// BucketEscalations holds one entry per escalation (and the index from
	// alert id to escalation).
	BucketEscalations = "escalations"
	// BucketLocks holds provider locks (e.g. IoTCall rule keys).
	BucketLocks = "escalator_locks"
)

// EnsureEngine creates or updates the engine's streams, consumer and bucket.
func EnsureEngine(ctx context.Context, js jetstream.JetStream, t Topology) error {
	t = t.withDefaults()
	return objects{
		streams: []jetstream.StreamConfig{{
			Name:              StreamTimers,
			Description:       "escalation wake-ups (internal)",
			Subjects:          []string{SubjectTimerRoot + ".>", SubjectDue},
			Storage:           jetstream.FileStorage,
			Retention:         jetstream.LimitsPolicy,
			MaxMsgsPerSubject: 1, // a new schedule for an escalation replaces the old one
			AllowMsgSchedules: true,
			Replicas:          t.Replicas,
		}, {
			Name:        StreamOutcomes,
			Description: "escalation outcomes (escalations.<id>.<event>)",
			Subjects:    []string{SubjectOutcomes},
			Storage:     jetstream.FileStorage,
			MaxAge:      30 * 24 * time.Hour,
			Duplicates:  10 * time.Minute,
			Replicas:    t.Replicas,
		}},
		consumers: []streamConsumer{{StreamTimers, DueConsumerConfig(t)}},
		buckets: []jetstream.KeyValueConfig{{
			Bucket: BucketEscalations, Description: "escalation state", History: 1,
			Storage: jetstream.FileStorage, Replicas: t.Replicas,
		}},
	}.apply(ctx, js)
}

// DueConsumerConfig is the durable consumer of due wake-ups. Wake-ups are
// never dropped: a failing one is retried for ever, with backoff.
func DueConsumerConfig(t Topology) jetstream.ConsumerConfig {
	t = t.withDefaults()
	return jetstream.ConsumerConfig{
		Durable:       ConsumerDue,
		Description:   "escalator workers: due wake-ups",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       t.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: t.MaxAckPending,
		FilterSubject: SubjectDue,
		Replicas:      t.Replicas,
	}
}
