package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// retryLater is a handler's answer "not now": the message comes back after
// d, and nothing failed (a deadline that arrived early, a ping that waits for
// an earlier one).
type retryLater struct {
	d   time.Duration
	why string
}

func (e *retryLater) Error() string { return e.why }

// pullBatch is how many messages a consumer buffers. Monitors are few and
// their messages small; each is handled in order, one at a time.
const pullBatch = 16

// stopWait is how long a stopping consumer waits for its drain (the
// messages it had buffered, handed back) before it returns anyway.
const stopWait = 3 * time.Second

// pull handles the messages of a durable consumer one at a time, in stream
// order, until ctx ends: nil acknowledges a message, a *retryLater hands it
// back for later, any other error hands it back with backoff (the consumers
// never give a message up). When ctx ends, the message being handled is
// finished (within its timeout) and those buffered are handed back at once.
// pull returns nil after such a stop, or the reason the consumer cannot be
// pulled (deleted, refused), so that the worker stops and is restarted.
func (r *Runtime) pull(ctx context.Context, stream, consumer, what string, handle func(context.Context, jetstream.Msg) error) error {
	cons, err := r.js.Consumer(ctx, stream, consumer)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(pullBatch))
	if err != nil {
		return fmt.Errorf("%s: pull messages: %w", what, err)
	}
	done := make(chan struct{})
	defer close(done)
	// nextCtx ends the loop stopWait after ctx if the drain has not
	// finished by then: a drain needs the server to confirm it, and with
	// NATS unreachable it would hold the shutdown for the connection's
	// whole drain timeout (Stop after Drain does nothing). What is still
	// buffered is redelivered after AckWait.
	nextCtx, endNext := context.WithCancel(context.WithoutCancel(ctx))
	defer endNext()
	go func() {
		select {
		case <-ctx.Done():
			it.Drain() // buffered messages still come out of Next, and are handed back
		case <-done:
			it.Stop()
			return
		}
		t := time.NewTimer(stopWait)
		defer t.Stop()
		select {
		case <-t.C:
			endNext()
		case <-done:
		}
	}()
	// Handlers run on a context that shutdown does not cancel: the one under
	// way finishes, bounded by its timeout.
	hctx := context.WithoutCancel(ctx)
	log := r.log.With(zap.String("consumer", consumer))
	for {
		msg, err := it.Next(jetstream.NextContext(nextCtx))
		if err != nil {
			switch {
			case nextCtx.Err() != nil:
				log.Warn("stopped before the consumer's drain finished (NATS unreachable?); what was buffered is redelivered after AckWait")
				return nil
			case errors.Is(err, jetstream.ErrMsgIteratorClosed):
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("%s: the consumer's iterator closed", what)
			case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrBadRequest):
				return fmt.Errorf("%s: pull messages: %w", what, err)
			}
			log.Warn("pull", zap.Error(err))
			continue
		}
		if ctx.Err() != nil {
			_ = msg.Nak()
			continue
		}
		r.process(hctx, log, msg, handle)
	}
}

// process runs handle on one message within the handler timeout and acks
// or hands back the message by what it returned.
func (r *Runtime) process(ctx context.Context, log *zap.Logger, msg jetstream.Msg, handle func(context.Context, jetstream.Msg) error) {
	hctx, cancel := context.WithTimeout(ctx, r.ackWait/2)
	err := handle(hctx, msg)
	cancel()
	var later *retryLater
	switch {
	case err == nil:
		if err := msg.Ack(); err != nil {
			log.Warn("ack", zap.String("subject", msg.Subject()), zap.Error(err))
		}
	case errors.As(err, &later):
		log.Debug("handing back for later", zap.String("subject", msg.Subject()), zap.String("why", later.why),
			zap.Duration("after", later.d))
		_ = msg.NakWithDelay(later.d)
	default:
		n := uint64(1)
		if meta, merr := msg.Metadata(); merr == nil {
			n = meta.NumDelivered
		}
		delay := redeliveryDelay(n)
		log.Warn("handling failed: redelivering", zap.String("subject", msg.Subject()), zap.Error(err),
			zap.Duration("after", delay), zap.Uint64("delivery", n))
		_ = msg.NakWithDelay(delay)
	}
}

// redeliveryDelay is the wait before the n-th redelivery of a message whose
// handling failed: 1s, 2s, 4s … capped at 30s.
func redeliveryDelay(n uint64) time.Duration {
	d := time.Second << min(max(n, 1)-1, 5)
	return min(d, 30*time.Second)
}
