package engine

import (
	"context"
	"errors"
)

// keepLease renews this worker's lease on the intent of escalation id under
// key (the redone-th placing of its step) every third of LeaseTTL, until
// the returned stop is called or the intent is no longer this placing's. A
// renewal that fails (NATS away) is tried again at the next one.
func (e *Engine) keepLease(key, id string, redone int) (stop func()) {
	ctx, cancel := context.WithCancel(e.bg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-e.clk.After(e.cfg.LeaseTTL / 3):
			}
			_, err := e.update(ctx, key, func(cur *Escalation) (*Escalation, error) {
				if cur == nil || cur.ID != id || cur.Intent == nil || cur.Intent.Owner != e.owner || cur.Intent.Redone != redone {
					return nil, errGone
				}
				cur.Intent.LeaseUntil = e.clk.Now().UTC().Add(e.cfg.LeaseTTL)
				return cur, nil
			})
			if errors.Is(err, errGone) {
				return
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
