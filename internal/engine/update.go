package engine

import (
	"context"
	"errors"
	"fmt"
)

// maxConflicts bounds update's compare-and-set retries. A conflict means
// another handler of the same escalation saved meanwhile (a lease renewal,
// an alert joining, an outbox published); a few in a row are normal, this
// many means the record is being fought over.
const maxConflicts = 32

// errTooManyConflicts is update's error when every attempt lost its race.
var errTooManyConflicts = errors.New("escalation changed too often meanwhile")

// decision looks at an escalation's current record (nil: none under the
// key) and returns the record to save, cur changed or a new one, or nil to
// save nothing. It may be called several times, each with a freshly loaded
// record, so it must not keep state between calls beyond what it returns.
// An error stops update and is returned as is.
type decision func(cur *Escalation) (*Escalation, error)

// saved is the record under a key after update, and its revision (nil, 0
// when there is none). Changed tells whether update wrote it.
type saved struct {
	esc     *Escalation
	rev     uint64
	changed bool
}

// update loads the record under key, applies decide and saves what it
// returns with compare-and-set, trying again from a fresh load when the
// record changed meanwhile, at most maxConflicts times. ctx is checked
// before every attempt.
//
// It decides first on the record this worker last saved or read (the
// store's cache), sparing a read: what it then saves is a compare-and-set
// at that revision, which fails if anyone wrote since. A decision to save
// nothing (or an error) on a cached record is not trusted: it is decided
// again on a fresh read. So every decision update acts on was made on the
// latest record.
func (e *Engine) update(ctx context.Context, key string, decide decision) (saved, error) {
	return e.updateFrom(ctx, key, false, decide)
}

// updateFrom is update; absent says the record most likely does not exist
// yet (a new escalation's group), so that when this worker has none
// cached, decide is tried on none, without reading, and what it returns
// created (which fails, and the record is read, if there is one).
func (e *Engine) updateFrom(ctx context.Context, key string, absent bool, decide decision) (saved, error) {
	for range maxConflicts {
		if err := ctx.Err(); err != nil {
			return saved{}, err
		}
		cur, rev, guess := e.st.cached(key)
		guess = guess || absent
		absent = false
		var next *Escalation
		var err error
		if guess {
			next, err = decide(cur)
			if err != nil || next == nil {
				guess = false
			}
		}
		if !guess {
			if cur, rev, err = e.st.load(ctx, key); err != nil {
				return saved{}, err
			}
			next, err = decide(cur)
			if err != nil {
				return saved{esc: cur, rev: rev}, err
			}
			if next == nil {
				return saved{esc: cur, rev: rev}, nil
			}
		}
		nrev, err := e.st.save(ctx, next, rev, guess)
		if errors.Is(err, errConflict) {
			continue
		}
		if err != nil {
			return saved{}, err
		}
		return saved{esc: next, rev: nrev, changed: true}, nil
	}
	return saved{}, fmt.Errorf("update %s: %w", key, errTooManyConflicts)
}
