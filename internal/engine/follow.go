package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/outcome"
)

// LastOutcome returns the sequence of the last outcome stored (0: none):
// a follower that starts after it misses nothing published from then on.
func (e *Engine) LastOutcome(ctx context.Context) (uint64, error) {
	// Looking the stream up fetches its info: one request.
	s, err := e.js.Stream(ctx, natsx.StreamOutcomes)
	if err != nil {
		return 0, fmt.Errorf("outcomes: %w", err)
	}
	return s.CachedInfo().State.LastSeq, nil
}

// Follow calls fn with each outcome stored after stream sequence after
// (LastOutcome: from now), with its sequence in the outcome stream, until
// ctx ends or fn returns an error; escalation, when not empty, keeps that
// escalation's. It reads the stream with an ordered
// consumer, which the client re-creates after a reconnect to NATS, from
// where it was: nothing is missed or repeated.
func (e *Engine) Follow(ctx context.Context, after uint64, escalation string, fn func(seq uint64, o outcome.Outcome) error) error {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: after + 1}
	if escalation != "" {
		cfg.FilterSubjects = []string{natsx.OutcomesOf(escalation)}
	}
	cons, err := e.js.OrderedConsumer(ctx, natsx.StreamOutcomes, cfg)
	if err != nil {
		return fmt.Errorf("follow outcomes: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("follow outcomes: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			return fmt.Errorf("follow outcomes: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			continue
		}
		var o outcome.Outcome
		if json.Unmarshal(m.Data(), &o) != nil {
			continue // not an outcome: skipped, as every reader does
		}
		if err := fn(md.Sequence.Stream, o); err != nil {
			return err
		}
	}
}
