package natsx

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

func TestPingNames(t *testing.T) {
	tests := []struct {
		name  string
		valid bool
	}{
		{"nightly-backup", true},
		{"etl.hourly_2", true},
		{"", false},
		{"a..b", false},
		{"a.", false},
		{".a", false},
		{"a b", false},
		{"a*", false},
		{"a>", false},
	}
	for _, tt := range tests {
		if got := ValidPingName(tt.name); got != tt.valid {
			t.Errorf("ValidPingName(%q) = %t, want %t", tt.name, got, tt.valid)
		}
		if !tt.valid {
			continue
		}
		if got, ok := PingName(PingSubject(tt.name)); !ok || got != tt.name {
			t.Errorf("PingName(PingSubject(%q)) = %q, %t", tt.name, got, ok)
		}
	}
	for _, subj := range []string{"heartbeats", "heartbeats.", "alerts.x"} {
		if name, ok := PingName(subj); ok {
			t.Errorf("PingName(%q) = %q, true; want false", subj, name)
		}
	}
}

// Every heartbeat stream, consumer and bucket has the --replicas asked for.
func TestHeartbeatObjectsHonourReplicas(t *testing.T) {
	for _, n := range []int{1, 3} {
		topo := Topology{Replicas: n}
		for _, sc := range HeartbeatStreamConfigs(topo) {
			if sc.Replicas != n {
				t.Errorf("stream %s: %d replicas, want %d", sc.Name, sc.Replicas, n)
			}
		}
		for _, cc := range []jetstream.ConsumerConfig{HeartbeatsConsumerConfig(topo), HeartbeatDueConsumerConfig(topo)} {
			if cc.Replicas != n {
				t.Errorf("consumer %s: %d replicas, want %d", cc.Durable, cc.Replicas, n)
			}
		}
		if b := HeartbeatBucketConfig(topo); b.Replicas != n {
			t.Errorf("bucket %s: %d replicas, want %d", b.Bucket, b.Replicas, n)
		}
	}
}
