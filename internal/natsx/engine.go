package natsx

import (
	"context"
	"encoding/hex"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names of the engine's streams, consumer and buckets.
const (
	// StreamTimers holds durable wake-ups: a schedule per escalation on
	// escalator.timer.<key> that the server fires onto escalator.due.<key>,
	// and immediate "place this step now" messages on escalator.due.<key>.
	StreamTimers     = "ESCALATION_TIMERS"
	SubjectTimerRoot = "escalator.timer"
	SubjectDueRoot   = "escalator.due"
	SubjectDue       = "escalator.due.>"
	ConsumerDue      = "escalator-due"
	StreamOutcomes   = "ESCALATIONS"
	SubjectOutcomes  = "escalations.>"
	// BucketEscalations holds one entry per escalation (and the index from
	// alert id to escalation).
	BucketEscalations = "escalations"
	// BucketLocks holds provider locks (e.g. IoTCall rule keys).
	BucketLocks = "escalator_locks"
	// BucketReplies remembers the replies (text messages back) already
	// applied, so that each is applied once by whichever worker reads it.
	BucketReplies = "escalator_replies"
	// BucketSilences holds the silences made at run time.
	BucketSilences = "escalator_silences"
	// BucketPositions holds the round-robin positions: for each set of
	// candidates, whom the next escalation calls.
	BucketPositions = "escalator_positions"
)

// SilencesKept is how long a silence stays after it ends, for the record
// (the silences' store deletes it then: a bucket TTL would count from its
// creation, and could drop one made to start weeks ahead).
const SilencesKept = 30 * 24 * time.Hour

// RepliesKept is how long an applied reply is remembered: longer than any
// provider keeps showing it in the log a worker reads.
const RepliesKept = 7 * 24 * time.Hour

// OutcomeSubject is the subject of an escalation's outcome event:
// escalations.<escalation-id as a subject token>.<event>.
func OutcomeSubject(escalationID, event string) string {
	return "escalations." + SubjectToken(escalationID) + "." + event
}

// OutcomesOf is the filter of every outcome event of one escalation.
func OutcomesOf(escalationID string) string {
	return "escalations." + SubjectToken(escalationID) + ".>"
}

// TimerSubject is where an escalation's one schedule lives (token: the
// escalation key's subject token).
func TimerSubject(token string) string { return SubjectTimerRoot + "." + token }

// DueSubject is where an escalation's wake-ups arrive.
func DueSubject(token string) string { return SubjectDueRoot + "." + token }

// KVStream is the stream behind a KV bucket.
func KVStream(bucket string) string { return "KV_" + bucket }

// KVSubject is the stream subject of a key (or a filter, with wildcards) in
// a KV bucket.
func KVSubject(bucket, key string) string { return "$KV." + bucket + "." + key }

// SubjectToken makes an id usable as one subject token: ids made only of
// letters, digits, '-' and '_' are kept; others are encoded as "x-" and the
// hex of their bytes. Events always carry the raw id.
func SubjectToken(id string) string {
	ok := id != ""
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			ok = false
			break
		}
	}
	if ok && !strings.HasPrefix(id, "x-") {
		return id
	}
	return "x-" + hex.EncodeToString([]byte(id))
}

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
		}, {
			Bucket: BucketReplies, Description: "replies (text messages) already applied", History: 1,
			TTL: RepliesKept, Storage: jetstream.FileStorage, Replicas: t.Replicas,
		}, {
			Bucket: BucketSilences, Description: "silences made at run time", History: 1,
			Storage: jetstream.FileStorage, Replicas: t.Replicas,
		}, {
			Bucket: BucketPositions, Description: "round-robin positions", History: 1,
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
		AckWait:       t.DueAckWait,
		MaxDeliver:    -1,
		MaxAckPending: t.MaxAckPending,
		FilterSubject: SubjectDue,
		Replicas:      t.Replicas,
	}
}
