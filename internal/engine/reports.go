package engine

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// stepReports publishes the outcomes of a step being placed (dispatched,
// dispatch_failed, fallback, refused) as they happen, on a goroutine of its
// own, in order, after the outcomes already waiting in the escalation's
// outbox. Adding never blocks: the dispatcher goes on to the next provider
// while NATS is slow or away. finish lets it publish what is left for a
// moment, then stops it and hands back what it has not published, for the
// step's result to save in the outbox.
type stepReports struct {
	e        *Engine
	log      *zap.Logger
	mu       sync.Mutex
	todo     []Pending       // not yet published, in order
	done     map[string]bool // message ids published
	draining bool            // finish was called: stop once todo is empty
	wake     chan struct{}
	stop     context.CancelFunc
	over     chan struct{}
}

// startReports starts the publisher of esc's step, with esc's outbox first.
func (e *Engine) startReports(esc *Escalation) *stepReports {
	ctx, stop := context.WithCancel(e.bg)
	r := &stepReports{e: e, log: e.log.With(zap.String("escalation", esc.ID)), todo: append([]Pending(nil), esc.Outbox...),
		done: map[string]bool{}, wake: make(chan struct{}, 1), stop: stop, over: make(chan struct{})}
	go r.run(ctx, esc, len(esc.Outbox))
	return r
}

// add queues p for publishing. It never blocks.
func (r *stepReports) add(p Pending) {
	r.mu.Lock()
	r.todo = append(r.todo, p)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run publishes until stopped. Once the first inherited outcomes of esc's
// outbox are published, it removes them from the record, so that another
// handler of the escalation meanwhile does not publish them again.
func (r *stepReports) run(ctx context.Context, esc *Escalation, inherited int) {
	defer close(r.over)
	delay := publishFirstRetry
	for {
		r.mu.Lock()
		var next *Pending
		if len(r.todo) > 0 {
			next = &r.todo[0]
		}
		draining := r.draining
		r.mu.Unlock()
		if next == nil && draining {
			return
		}
		if next == nil {
			select {
			case <-ctx.Done():
				return
			case <-r.wake:
				continue
			}
		}
		if _, err := r.e.publishOnce(ctx, *next); err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Debug("publish step outcome: retrying", zap.String("event", next.Outcome.Event), zap.Error(err))
			// Real time: this waits on network I/O, not on the escalation's clock.
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(delay*2, publishMaxRetry)
			continue
		}
		delay = publishFirstRetry
		r.mu.Lock()
		r.done[r.todo[0].MsgID] = true
		r.todo = r.todo[1:]
		r.mu.Unlock()
		if inherited > 0 {
			if inherited--; inherited == 0 {
				if err := r.e.forget(ctx, esc, r.published()); err != nil && ctx.Err() == nil {
					r.log.Debug("clear published outcomes", zap.Error(err))
				}
			}
		}
	}
}

// published returns a copy of the message ids published so far.
func (r *stepReports) published() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]bool, len(r.done))
	for id := range r.done {
		out[id] = true
	}
	return out
}

// finish lets the publisher publish what is left for at most grace, then
// stops it, and returns what it did not publish, in order, and the message
// ids it did. An outcome being published at that moment is returned as not
// published: publishing it again stores it once (though a plain NATS
// subscriber sees it twice), so the grace lets the usual last report land.
func (r *stepReports) finish(grace time.Duration) (todo []Pending, done map[string]bool) {
	r.mu.Lock()
	r.draining = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	t := time.NewTimer(grace)
	select {
	case <-r.over:
	case <-t.C:
		r.stop()
		<-r.over
	}
	t.Stop()
	r.stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.todo, r.done
}
