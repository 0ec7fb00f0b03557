package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/escalator-oss/escalator/internal/clock"
)

// Guard names, as used in RefusedError, reports and metrics.
const (
	GuardConcurrency = "concurrency"
	GuardRate        = "rate"
	GuardPerPerson   = "per_person"
)

// RefusedError says a guard refused a call. The Dispatcher reports it as a
// refusal, never hides it.
type RefusedError struct {
	Guard    string
	Provider string
	Reason   string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refuse call via %s: %s guard: %s", e.Provider, e.Guard, e.Reason)
}

// IsRefused reports whether err is, or wraps, a guard's refusal.
func IsRefused(err error) (*RefusedError, bool) {
	var r *RefusedError
	ok := errors.As(err, &r)
	return r, ok
}

// ProviderLimits are one provider's cost guards. Zero values mean unlimited.
type ProviderLimits struct {
	// Concurrency is how many requests may be in flight at once.
	Concurrency int
	// Rate is how many requests per second may start, with Burst at once.
	Rate  rate.Limit
	Burst int
}

// GuardsConfig configures Guards.
type GuardsConfig struct {
	// Providers are the limits per provider name; providers not listed are
	// unlimited.
	Providers map[string]ProviderLimits
	// PerPersonPerHour caps the calls placed to one number (E.164) in any
	// sliding hour, across providers; 0 is unlimited.
	PerPersonPerHour int
	// Clock is the time source (nil: the wall clock).
	Clock clock.Clock
}

// Guards are the cost and abuse guards: a concurrency limit and a rate limit
// per provider, and a cap per person on calls in a sliding hour, so that an
// alert storm cannot turn into hundreds of calls to one phone. The state is
// in memory and per worker: with N replicas a person may get up to N times
// the cap. Safe for concurrent use.
type Guards struct {
	clk       clock.Clock
	perPerson int
	sems      map[string]chan struct{}
	limiters  map[string]*rate.Limiter

	mu    sync.Mutex
	calls map[string][]time.Time // by E.164, oldest first
}

// NewGuards returns guards per cfg.
func NewGuards(cfg GuardsConfig) *Guards {
	g := &Guards{
		clk:       cfg.Clock,
		perPerson: cfg.PerPersonPerHour,
		sems:      make(map[string]chan struct{}),
		limiters:  make(map[string]*rate.Limiter),
		calls:     make(map[string][]time.Time),
	}
	if g.clk == nil {
		g.clk = clock.Real{}
	}
	for name, l := range cfg.Providers {
		if l.Concurrency > 0 {
			g.sems[name] = make(chan struct{}, l.Concurrency)
		}
		if l.Rate > 0 {
			burst := max(l.Burst, 1)
			g.limiters[name] = rate.NewLimiter(l.Rate, burst)
		}
	}
	return g
}

// Acquire waits, until deadline at the latest, for a free concurrency slot
// and a rate-limit token of provider. It returns release, to call when the
// request is over, or a *RefusedError (or ctx's error).
func (g *Guards) Acquire(ctx context.Context, provider string, deadline time.Time) (release func(), err error) {
	release = func() {}
	if sem, ok := g.sems[provider]; ok {
		select {
		case sem <- struct{}{}:
		default:
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-g.clk.After(deadline.Sub(g.clk.Now())):
				return nil, &RefusedError{Guard: GuardConcurrency, Provider: provider,
					Reason: fmt.Sprintf("all %d slots busy until the budget ran out", cap(sem))}
			}
		}
		release = func() { <-sem }
	}
	if lim, ok := g.limiters[provider]; ok {
		now := g.clk.Now()
		r := lim.ReserveN(now, 1)
		delay := r.DelayFrom(now)
		if !r.OK() || now.Add(delay).After(deadline) {
			r.CancelAt(now)
			release()
			return nil, &RefusedError{Guard: GuardRate, Provider: provider,
				Reason: fmt.Sprintf("next request allowed in %s, past the budget", delay)}
		}
		if delay > 0 {
			select {
			case <-g.clk.After(delay):
			case <-ctx.Done():
				r.CancelAt(g.clk.Now())
				release()
				return nil, ctx.Err()
			}
		}
	}
	return release, nil
}

// TakePerson counts one call to the number e164 now, unless that would
// exceed the per-person cap. undo gives the call back (when it was not
// placed after all).
func (g *Guards) TakePerson(e164 string) (undo func(), ok bool) {
	if g.perPerson <= 0 {
		return func() {}, true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clk.Now()
	stamps := g.calls[e164]
	cut := 0
	for cut < len(stamps) && !stamps[cut].After(now.Add(-time.Hour)) {
		cut++
	}
	stamps = stamps[cut:]
	if len(stamps) >= g.perPerson {
		g.calls[e164] = stamps
		return nil, false
	}
	g.calls[e164] = append(stamps, now)
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			s := g.calls[e164]
			for i := len(s) - 1; i >= 0; i-- {
				if s[i].Equal(now) {
					g.calls[e164] = append(s[:i:i], s[i+1:]...)
					return
				}
			}
		})
	}, true
}

// PerPersonCap returns the per-person cap per hour (0: none).
func (g *Guards) PerPersonCap() int { return g.perPerson }
