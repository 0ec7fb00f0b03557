package natsx

import (
	"context"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Names of the heartbeat monitors' streams, consumers and bucket.
const (
	// StreamHeartbeats captures pings: any message on heartbeats.<name>,
	// published over NATS or by the HTTP ping. A work queue: a ping stays
	// until a worker has applied it, so one published while no worker runs
	// counts when one starts, and the stream stays near empty otherwise.
	StreamHeartbeats   = "HEARTBEATS"
	SubjectPingRoot    = "heartbeats"
	SubjectPings       = "heartbeats.>"
	ConsumerHeartbeats = "escalator-heartbeats"
	// StreamHeartbeatTimers holds each monitor's one deadline: a message
	// schedule on escalator.heartbeat.timer.<token> that the server fires
	// onto escalator.heartbeat.due.<token>.
	StreamHeartbeatTimers     = "HEARTBEAT_TIMERS"
	SubjectHeartbeatTimerRoot = "escalator.heartbeat.timer"
	SubjectHeartbeatDueRoot   = "escalator.heartbeat.due"
	SubjectHeartbeatDue       = "escalator.heartbeat.due.>"
	ConsumerHeartbeatDue      = "escalator-heartbeat-due"
	// BucketHeartbeats holds one entry per monitor (its last ping, what its
	// deadline counts from, whether its alert is firing).
	BucketHeartbeats = "escalator_heartbeats"
	// SubjectAlertsHeartbeat is where the monitors' alert events are
	// published (source "heartbeat").
	SubjectAlertsHeartbeat = "alerts.heartbeat"
)

// PingSubject is where a ping for the monitor name is published:
// heartbeats.<name>.
func PingSubject(name string) string { return SubjectPingRoot + "." + name }

// PingName is the monitor a ping's subject names (everything after
// "heartbeats."), and whether the subject is a ping subject at all.
func PingName(subject string) (string, bool) {
	name, ok := strings.CutPrefix(subject, SubjectPingRoot+".")
	return name, ok && name != ""
}

// ValidPingName reports whether name can be published as heartbeats.<name>:
// one or more tokens of letters, digits, '-' and '_', separated by dots.
func ValidPingName(name string) bool {
	if name == "" {
		return false
	}
	for _, tok := range strings.Split(name, ".") {
		if tok == "" {
			return false
		}
		for _, r := range tok {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// HeartbeatTimerSubject is where the monitor's one schedule lives (token:
// SubjectToken of its name).
func HeartbeatTimerSubject(token string) string { return SubjectHeartbeatTimerRoot + "." + token }

// HeartbeatDueSubject is where the monitor's deadlines arrive.
func HeartbeatDueSubject(token string) string { return SubjectHeartbeatDueRoot + "." + token }

// EnsureHeartbeats creates or updates the heartbeat monitors' streams,
// consumers and bucket.
func EnsureHeartbeats(ctx context.Context, js jetstream.JetStream, t Topology) error {
	return objects{
		streams: HeartbeatStreamConfigs(t),
		consumers: []streamConsumer{
			{StreamHeartbeats, HeartbeatsConsumerConfig(t)},
			{StreamHeartbeatTimers, HeartbeatDueConsumerConfig(t)},
		},
		buckets: []jetstream.KeyValueConfig{HeartbeatBucketConfig(t)},
	}.apply(ctx, js)
}

// HeartbeatStreamConfigs are the streams HEARTBEATS and HEARTBEAT_TIMERS.
func HeartbeatStreamConfigs(t Topology) []jetstream.StreamConfig {
	t = t.withDefaults()
	return []jetstream.StreamConfig{{
		Name:        StreamHeartbeats,
		Description: "heartbeat pings (heartbeats.<name>), until a worker applied them",
		Subjects:    []string{SubjectPings},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.WorkQueuePolicy,
		// Pings published while no worker runs are kept as long as alert
		// events are. No size limit of its own: a ping's body is not read,
		// and one refused by the stream would be lost to a plain `nats pub`;
		// applied pings leave the work queue.
		MaxAge:   t.AlertsMaxAge,
		Replicas: t.Replicas,
	}, {
		Name:              StreamHeartbeatTimers,
		Description:       "heartbeat deadlines (internal)",
		Subjects:          []string{SubjectHeartbeatTimerRoot + ".>", SubjectHeartbeatDue},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: 1, // a new deadline for a monitor replaces the old one
		AllowMsgSchedules: true,
		Replicas:          t.Replicas,
	}}
}

// HeartbeatBucketConfig is the bucket escalator_heartbeats.
func HeartbeatBucketConfig(t Topology) jetstream.KeyValueConfig {
	t = t.withDefaults()
	return jetstream.KeyValueConfig{
		Bucket: BucketHeartbeats, Description: "heartbeat monitors: last ping, deadline, firing", History: 1,
		Storage: jetstream.FileStorage, Replicas: t.Replicas,
	}
}

// HeartbeatsConsumerConfig is the durable consumer of pings, shared by every
// worker. A ping is never dropped: a failing one is retried for ever.
func HeartbeatsConsumerConfig(t Topology) jetstream.ConsumerConfig {
	t = t.withDefaults()
	return jetstream.ConsumerConfig{
		Durable:       ConsumerHeartbeats,
		Description:   "escalator workers: heartbeat pings",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       t.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: t.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: SubjectPings,
		Replicas:      t.Replicas,
	}
}

// HeartbeatDueConsumerConfig is the durable consumer of heartbeat deadlines.
// A deadline is never dropped: a failing one is retried for ever.
func HeartbeatDueConsumerConfig(t Topology) jetstream.ConsumerConfig {
	t = t.withDefaults()
	return jetstream.ConsumerConfig{
		Durable:       ConsumerHeartbeatDue,
		Description:   "escalator workers: heartbeat deadlines",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       t.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: t.MaxAckPending,
		FilterSubject: SubjectHeartbeatDue,
		Replicas:      t.Replicas,
	}
}
