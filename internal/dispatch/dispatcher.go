package dispatch

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/provider"
)

// Dispatcher places a step's calls through its chain of providers, with
// retries, fallback and guards. Safe for concurrent use.
type Dispatcher struct {
	providers map[string]Provider
	retrier   Retrier
	fraction  float64
	defBudget time.Duration
	guards    *Guards
	clk       clock.Clock
	log       *zap.Logger
	m         *metrics
	redact    func(string) string
}

// New returns a Dispatcher per cfg, after cfg.Validate.
func New(cfg Config) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("create dispatcher: %w", err)
	}
	d := &Dispatcher{
		providers: cfg.Providers, fraction: cfg.BudgetFraction, defBudget: cfg.DefaultBudget,
		guards: cfg.Guards, clk: cfg.Clock, log: cfg.Logger, m: m, redact: Redactor(cfg.Secrets...),
	}
	if d.fraction == 0 {
		d.fraction = DefaultBudgetFraction
	}
	if d.defBudget == 0 {
		d.defBudget = DefaultBudget
	}
	if d.clk == nil {
		d.clk = clock.Real{}
	}
	if d.log == nil {
		d.log = zap.NewNop()
	}
	d.log = d.log.With(zap.String("component", "dispatch"))
	d.retrier = Retrier{
		Attempts: cfg.Attempts, RequestTimeout: cfg.RequestTimeout,
		InitialInterval: cfg.InitialInterval, MaxInterval: cfg.MaxInterval,
		Clock: d.clk, Logger: d.log, Redact: d.redact,
	}
	return d, nil
}

// Budget returns how long one provider of a step with the given wait may
// take, retries included.
func (d *Dispatcher) Budget(wait time.Duration) time.Duration {
	if wait <= 0 {
		return d.defBudget
	}
	return time.Duration(float64(wait) * d.fraction)
}

// Dispatch places req's calls through chain, in order: each link is tried
// for the people not reached yet, and when a provider fails permanently, its
// retries run out, or it refuses some people individually, the next link is
// tried for them. Each provider may take Budget(wait). People over the
// per-person cap are refused and not passed on. Everything that happens is
// passed to report (nil: discarded) as it happens; the Outcome sums it up.
func (d *Dispatcher) Dispatch(ctx context.Context, req Request, chain []provider.Via, wait time.Duration, report func(Report)) Outcome {
	emit := func(r Report) {
		r.Err = d.redact(r.Err)
		if report != nil {
			report(r)
		}
	}
	ctx = withRequest(ctx, req)
	var out Outcome
	remaining := append([]provider.Person(nil), req.People...)
	reasons := make(map[string]string)
	setReason := func(people []provider.Person, why string) {
		for _, p := range people {
			reasons[p.Phone] = d.redact(why)
		}
	}
	setReason(remaining, "no provider in the step's chain")
	budget := d.Budget(wait)

	for i, via := range chain {
		if len(remaining) == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			setReason(remaining, "dispatch stopped: "+err.Error())
			break
		}
		remaining = d.link(ctx, req, via, remaining, budget, &out, emit, setReason)
		if len(remaining) > 0 && i+1 < len(chain) {
			next := chain[i+1].Provider
			d.m.fallbacks.WithLabelValues(via.Provider, next).Inc()
			emit(Report{Kind: ReportFallback, Provider: via.Provider, Next: next, People: remaining,
				Err: reasons[remaining[0].Phone]})
			d.log.Info("falling back", zap.String("from", via.Provider), zap.String("to", next),
				zap.Int("people", len(remaining)), zap.String("escalation", req.EscalationID))
		}
	}
	for _, p := range remaining {
		out.Unreached = append(out.Unreached, provider.Unreached{Person: p, Reason: reasons[p.Phone]})
	}
	return out
}

// link tries one link of the chain for people and returns those it did not
// reach and that may go on to the next link.
func (d *Dispatcher) link(ctx context.Context, req Request, via provider.Via, people []provider.Person, budget time.Duration,
	out *Outcome, emit func(Report), setReason func([]provider.Person, string)) []provider.Person {
	name := via.Provider
	p, ok := d.providers[name]
	if !ok {
		err := fmt.Sprintf("dispatch via %s: provider not configured", name)
		d.m.calls.WithLabelValues(name, "failed").Inc()
		emit(Report{Kind: ReportDispatchFailed, Provider: name, People: people, Err: err})
		setReason(people, err)
		return people
	}

	allowed, undo := d.capPeople(name, people, out, emit)
	if len(allowed) == 0 {
		return nil
	}
	sub := req
	sub.People, sub.Via = allowed, via
	res, attempts, err := d.call(ctx, p, sub, budget, emit)
	out.Attempts += attempts
	if err != nil {
		for _, u := range undo {
			u()
		}
		result := "failed"
		if _, refused := IsRefused(err); refused {
			result = "refused"
		}
		d.m.calls.WithLabelValues(name, result).Inc()
		msg := err.Error()
		emit(Report{Kind: ReportDispatchFailed, Provider: name, People: allowed, Attempt: attempts, Err: msg})
		d.log.Warn("dispatch failed", zap.String("provider", name), zap.Int("attempts", attempts),
			zap.String("escalation", req.EscalationID), zap.String("error", d.redact(msg)))
		setReason(allowed, msg)
		return allowed
	}

	// The provider says whom it called; anyone it does not mention is taken
	// as not called and passed on (a missed page is worse than a second
	// provider's call).
	called := make(map[string]bool, len(res.Reached))
	for _, p := range res.Reached {
		called[p.Phone] = true
	}
	failed := make(map[string]string, len(res.Failed))
	for _, f := range res.Failed {
		failed[f.Person.Phone] = f.Reason
	}
	skipped := make(map[string]string, len(res.NotCalled))
	for _, f := range res.NotCalled {
		skipped[f.Person.Phone] = f.Reason
	}
	var reached, notReached []provider.Person
	var notCalled []provider.Unreached
	for i, pp := range allowed {
		switch why, isSkipped := skipped[pp.Phone]; {
		case called[pp.Phone]:
			reached = append(reached, pp)
		case isSkipped:
			undo[i]()
			notCalled = append(notCalled, provider.Unreached{Person: pp, Reason: d.redact(why)})
		default:
			undo[i]()
			why, ok := failed[pp.Phone]
			if !ok {
				why = "not reported by the provider"
				failed[pp.Phone] = why
			}
			notReached = append(notReached, pp)
			setReason([]provider.Person{pp}, fmt.Sprintf("%s refused the number: %s", name, why))
		}
	}
	out.NotCalled = append(out.NotCalled, notCalled...)
	if len(reached) == 0 && len(notCalled) == 0 {
		d.m.calls.WithLabelValues(name, "failed").Inc()
		emit(Report{Kind: ReportDispatchFailed, Provider: name, People: notReached, Attempt: attempts,
			Err: failedText(notReached, failed)})
		return notReached
	}
	res.Provider = name
	res.Reached, res.Failed, res.NotCalled = reached, nil, notCalled
	for _, p := range notReached {
		res.Failed = append(res.Failed, provider.Unreached{Person: p, Reason: d.redact(failed[p.Phone])})
	}
	out.Results = append(out.Results, res)
	result := "accepted"
	switch {
	case res.Pending:
		result = "pending"
	case len(notReached) > 0 || len(notCalled) > 0:
		result = "partial"
	}
	d.m.calls.WithLabelValues(name, result).Inc()
	emit(Report{Kind: ReportDispatched, Provider: name, People: reached, References: res.References,
		Attempt: attempts, Pending: res.Pending, NotCalled: notCalled})
	d.log.Info("dispatched", zap.String("provider", name), zap.Int("attempts", attempts),
		zap.Int("reached", len(reached)), zap.Int("not_called", len(notCalled)), zap.Strings("references", res.References),
		zap.String("escalation", req.EscalationID))
	if len(notReached) > 0 {
		emit(Report{Kind: ReportDispatchFailed, Provider: name, People: notReached, Attempt: attempts,
			Err: failedText(notReached, failed)})
	}
	return notReached
}
