package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/clock"
)

// Retry defaults.
const (
	DefaultAttempts        = 3
	DefaultRequestTimeout  = 10 * time.Second
	DefaultInitialInterval = 500 * time.Millisecond
	DefaultMaxInterval     = 10 * time.Second
)

// Retrier is the one retry wrapper of escalator: exponential backoff with
// jitter (cenkalti/backoff/v4), bounded by a number of attempts and by a time
// budget, honouring the providers' Retry-After. Zero fields take the
// defaults above (Budget: DefaultBudget).
type Retrier struct {
	// Attempts is the total number of attempts, the first included.
	Attempts int
	// Budget is the total time the attempts and the waits between them may
	// take. It is the backoff's MaxElapsedTime: a retry whose wait would end
	// after it is not made, so that the fallback runs in time.
	Budget time.Duration
	// RequestTimeout bounds each attempt (a real-time context deadline, since
	// it guards real network I/O).
	RequestTimeout time.Duration
	// InitialInterval and MaxInterval shape the exponential backoff.
	InitialInterval time.Duration
	MaxInterval     time.Duration
	// Clock measures the budget and times the waits between attempts.
	Clock clock.Clock
	// Logger receives one line each time the error changes.
	Logger *zap.Logger
	// Redact, when set, removes secrets from error text before it is logged.
	Redact func(string) string
}

// Do calls op until it succeeds, returns a permanent error (see
// IsRetryable), the attempts are used up, the budget is spent, or ctx ends.
// ctx is checked before every attempt; op receives a context bounded by
// RequestTimeout and the attempt number from 1. It returns the number of
// attempts made and, on failure, an error naming provider, the attempts and
// the last cause (which errors.Is/As can still reach).
func (r Retrier) Do(ctx context.Context, provider string, op func(ctx context.Context, attempt int) error) (int, error) {
	r = r.withDefaults()
	start := r.Clock.Now()
	deadline := start.Add(r.Budget)

	exp := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(r.InitialInterval),
		backoff.WithMaxInterval(r.MaxInterval),
		backoff.WithRandomizationFactor(backoff.DefaultRandomizationFactor),
		backoff.WithMultiplier(backoff.DefaultMultiplier),
		backoff.WithMaxElapsedTime(r.Budget),
		backoff.WithClockProvider(backoffClock{r.Clock}),
	)
	hinted := &hintedBackOff{b: exp, clk: r.Clock, deadline: deadline}
	b := backoff.WithContext(backoff.WithMaxRetries(hinted, uint64(r.Attempts-1)), ctx)

	attempts := 0
	var last error
	operation := func() error {
		if err := ctx.Err(); err != nil {
			return backoff.Permanent(err)
		}
		if attempts > 0 && !r.Clock.Now().Before(deadline) {
			return backoff.Permanent(errBudget)
		}
		attempts++
		actx, cancel := context.WithTimeout(ctx, r.RequestTimeout)
		defer cancel()
		err := op(actx, attempts)
		if err == nil {
			return nil
		}
		last = err
		retry, after := IsRetryable(err)
		if !retry {
			return backoff.Permanent(err)
		}
		hinted.hint = after
		return err
	}
	var lastLogged string
	notify := func(err error, wait time.Duration) {
		msg := r.redact(err.Error())
		if msg == lastLogged {
			return
		}
		lastLogged = msg
		r.Logger.Warn("attempt failed, retrying",
			zap.String("provider", provider), zap.Int("attempt", attempts),
			zap.Duration("wait", wait), zap.String("error", msg))
	}
	err := backoff.RetryNotifyWithTimer(operation, b, notify, &backoffTimer{clk: r.Clock})
	if err == nil {
		return attempts, nil
	}
	if last == nil {
		// Nothing was tried: ctx ended before the first attempt.
		return attempts, fmt.Errorf("call %s: no attempt made: %w", provider, err)
	}
	var why string
	switch {
	case ctx.Err() != nil:
		why = "stopped (" + ctx.Err().Error() + ")"
	case !isRetryableErr(last):
		why = "failed permanently"
	case hinted.overBudget:
		why = "gave up (Retry-After is past the budget)"
	case attempts >= r.Attempts:
		why = "gave up"
	default:
		why = "gave up (budget spent)"
	}
	return attempts, fmt.Errorf("call %s: %s after %d attempt(s): %w", provider, why, attempts, last)
}

func isRetryableErr(err error) bool {
	ok, _ := IsRetryable(err)
	return ok
}

var errBudget = errors.New("retry budget spent")

func (r Retrier) withDefaults() Retrier {
	if r.Attempts < 1 {
		r.Attempts = DefaultAttempts
	}
	if r.Budget <= 0 {
		r.Budget = DefaultBudget
	}
	if r.RequestTimeout <= 0 {
		r.RequestTimeout = DefaultRequestTimeout
	}
	if r.InitialInterval <= 0 {
		r.InitialInterval = DefaultInitialInterval
	}
	if r.MaxInterval <= 0 {
		r.MaxInterval = DefaultMaxInterval
	}
	if r.Clock == nil {
		r.Clock = clock.Real{}
	}
	if r.Logger == nil {
		r.Logger = zap.NewNop()
	}
	return r
}

func (r Retrier) redact(s string) string {
	if r.Redact == nil {
		return s
	}
	return r.Redact(s)
}

// hintedBackOff stretches a wait to the provider's Retry-After, and stops
// when that wait would end past the budget's deadline, so that the fallback
// chain moves on instead of waiting for a provider that asked for too long.
type hintedBackOff struct {
	b          backoff.BackOff
	clk        clock.Clock
	deadline   time.Time
	hint       time.Duration // the last attempt's Retry-After
	overBudget bool
}

func (h *hintedBackOff) Reset() { h.b.Reset(); h.hint = 0; h.overBudget = false }

func (h *hintedBackOff) NextBackOff() time.Duration {
	next := h.b.NextBackOff()
	if next == backoff.Stop {
		return backoff.Stop
	}
	if h.hint > next {
		next = h.hint
	}
	if h.clk.Now().Add(next).After(h.deadline) {
		h.overBudget = h.hint > 0 && h.hint == next
		return backoff.Stop
	}
	return next
}

// backoffClock adapts clock.Clock to backoff.Clock.
type backoffClock struct{ c clock.Clock }

func (b backoffClock) Now() time.Time { return b.c.Now() }

// backoffTimer adapts clock.Clock to backoff.Timer, so that tests with a fake
// clock advance through the waits instead of sleeping.
type backoffTimer struct {
	clk clock.Clock
	ch  <-chan time.Time
}

func (t *backoffTimer) Start(d time.Duration) { t.ch = t.clk.After(d) }
func (t *backoffTimer) Stop()                 {}
func (t *backoffTimer) C() <-chan time.Time   { return t.ch }
