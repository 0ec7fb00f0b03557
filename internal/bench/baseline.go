package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
)

// Baseline is raw JetStream on the worker's own embedded server, with
// messages of the alerts' size on a copy of the ALERTS stream's configuration.
type Baseline struct {
	Messages int `json:"messages"`
	// MessageBytes is the mean size of one message (the alerts' size).
	MessageBytes int `json:"message_bytes"`
	// PublishPerSec: async publishes with a message id, until all are acked.
	PublishPerSec float64 `json:"publish_per_sec"`
	// ConsumeAckPerSec: a durable pull consumer with explicit acks, one Ack
	// per message, as the worker's consumer does.
	ConsumeAckPerSec float64 `json:"consume_ack_per_sec"`
}

// baseline measures raw JetStream with n messages.
func baseline(ctx context.Context, nc *nats.Conn, n int) (Baseline, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return Baseline{}, err
	}
	alerts, err := js.Stream(ctx, natsx.StreamAlerts)
	if err != nil {
		return Baseline{}, fmt.Errorf("baseline: the worker's ALERTS stream: %w", err)
	}
	cfg := alerts.CachedInfo().Config
	cfg.Name, cfg.Subjects = "BENCH_BASELINE", []string{"bench.baseline.>"}
	st, err := js.CreateStream(ctx, cfg)
	if err != nil {
		return Baseline{}, fmt.Errorf("baseline: create stream: %w", err)
	}
	defer func() { _ = js.DeleteStream(context.WithoutCancel(ctx), cfg.Name) }()

	pub, err := newPublisher(nc)
	if err != nil {
		return Baseline{}, err
	}
	at := time.Now()
	size := 0
	start := time.Now()
	for i := range n {
		id, data := alertJSON("baseline", i, at)
		size += len(data)
		if err := pub.publish("bench.baseline.x", id, data); err != nil {
			return Baseline{}, fmt.Errorf("baseline: publish: %w", err)
		}
	}
	if err := pub.flush(ctx); err != nil {
		return Baseline{}, err
	}
	pubTook := time.Since(start)

	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "bench-baseline", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1000,
	})
	if err != nil {
		return Baseline{}, fmt.Errorf("baseline: create consumer: %w", err)
	}
	start = time.Now()
	it, err := cons.Messages()
	if err != nil {
		return Baseline{}, err
	}
	defer it.Stop()
	for range n {
		m, err := it.Next()
		if err != nil {
			return Baseline{}, fmt.Errorf("baseline: consume: %w", err)
		}
		if err := m.Ack(); err != nil {
			return Baseline{}, fmt.Errorf("baseline: ack: %w", err)
		}
	}
	// The last acks are sent; a round trip makes sure the server has them.
	if err := nc.Flush(); err != nil {
		return Baseline{}, err
	}
	consTook := time.Since(start)
	return Baseline{
		Messages: n, MessageBytes: size / max(n, 1),
		PublishPerSec:    float64(n) / pubTook.Seconds(),
		ConsumeAckPerSec: float64(n) / consTook.Seconds(),
	}, nil
}
