package dispatch

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/clock"
)

// Dispatcher defaults.
const (
	// DefaultBudgetFraction is the share of a step's wait that one provider's
	// retries may take, leaving time for the fallback before the next step.
	DefaultBudgetFraction = 1.0 / 3
	// DefaultBudget is one provider's budget when the step has no wait.
	DefaultBudget = time.Minute
)

// Config configures a Dispatcher.
type Config struct {
	// Providers by name (IoTCall, Yemot, CCAI); a chain naming a provider not
	// here fails over to the next link.
	Providers map[string]Provider
	// Attempts per provider, the first included (0: DefaultAttempts).
	Attempts int
	// BudgetFraction of the step's wait one provider may take, retries
	// included (0: DefaultBudgetFraction).
	BudgetFraction float64
	// DefaultBudget is the per-provider budget of a step with no wait
	// (0: DefaultBudget).
	DefaultBudget time.Duration
	// RequestTimeout bounds each attempt (0: DefaultRequestTimeout).
	RequestTimeout time.Duration
	// InitialInterval and MaxInterval shape the backoff (0: defaults).
	InitialInterval time.Duration
	MaxInterval     time.Duration
	// Guards are the cost and abuse guards (nil: none).
	Guards *Guards
	// Clock is the time source (nil: the wall clock).
	Clock clock.Clock
	// Logger (nil: no logging).
	Logger *zap.Logger
	// Registerer receives the dispatch metrics (nil: not registered).
	Registerer prometheus.Registerer
	// Secrets are removed from every report and log line the Dispatcher
	// writes (e.g. Env.Secrets()), in case a provider's error quotes one.
	Secrets []string
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Providers) == 0 {
		errs = append(errs, errors.New("providers: at least one is required"))
	}
	names := make([]string, 0, len(c.Providers))
	for name := range c.Providers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := c.Providers[name]
		switch {
		case p == nil:
			errs = append(errs, fmt.Errorf("providers[%s]: is nil", name))
		case p.Name() != name:
			errs = append(errs, fmt.Errorf("providers[%s]: provider calls itself %q", name, p.Name()))
		}
	}
	if c.Attempts < 0 {
		errs = append(errs, fmt.Errorf("attempts: must not be negative, got %d", c.Attempts))
	}
	if c.BudgetFraction < 0 || c.BudgetFraction > 1 {
		errs = append(errs, fmt.Errorf("budget fraction: must be in (0, 1], got %g", c.BudgetFraction))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"default budget", c.DefaultBudget}, {"request timeout", c.RequestTimeout},
		{"initial interval", c.InitialInterval}, {"max interval", c.MaxInterval},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative, got %s", d.name, d.v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("validate dispatch config: %w", err)
	}
	return nil
}
