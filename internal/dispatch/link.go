package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/escalator-oss/escalator/internal/provider"
)

// capPeople applies the per-person cap: it returns the people allowed, with
// for each a function that gives the counted call back, and reports the
// people refused (who are not passed on to other providers).
func (d *Dispatcher) capPeople(name string, people []provider.Person, out *Outcome, emit func(Report)) ([]provider.Person, []func()) {
	if d.guards == nil {
		undo := make([]func(), len(people))
		for i := range undo {
			undo[i] = func() {}
		}
		return people, undo
	}
	var allowed, refused []provider.Person
	var undo []func()
	for _, p := range people {
		u, ok := d.guards.TakePerson(p.Phone)
		if !ok {
			refused = append(refused, p)
			continue
		}
		allowed = append(allowed, p)
		undo = append(undo, u)
	}
	if len(refused) > 0 {
		why := fmt.Sprintf("refuse call via %s: %s guard: over %d calls in the last hour",
			name, GuardPerPerson, d.guards.PerPersonCap())
		d.m.refusals.WithLabelValues(name, GuardPerPerson).Add(float64(len(refused)))
		emit(Report{Kind: ReportRefused, Provider: name, People: refused, Guard: GuardPerPerson, Err: why})
		for _, p := range refused {
			out.Unreached = append(out.Unreached, provider.Unreached{Person: p, Reason: why})
		}
	}
	return allowed, undo
}

// call makes the retried call of one provider, under the provider guards.
func (d *Dispatcher) call(ctx context.Context, p Provider, req Request, budget time.Duration, emit func(Report)) (Result, int, error) {
	name := p.Name()
	r := d.retrier
	r.Budget = budget
	r.RequestTimeout = attemptTimeout(p, r.RequestTimeout, req)
	deadline := d.clk.Now().Add(budget)
	var res Result
	attempts, err := r.Do(ctx, name, func(actx context.Context, n int) error {
		if d.guards != nil {
			release, err := d.guards.Acquire(actx, name, deadline)
			if err != nil {
				if ref, ok := IsRefused(err); ok {
					d.m.refusals.WithLabelValues(name, ref.Guard).Inc()
					d.m.attempts.WithLabelValues(name, "refused").Inc()
					emit(Report{Kind: ReportRefused, Provider: name, People: req.People, Attempt: n,
						Guard: ref.Guard, Err: err.Error()})
				}
				return err
			}
			defer release()
		}
		got, err := p.Call(actx, req)
		rep := Report{Kind: ReportAttempt, Provider: name, People: req.People, Attempt: n}
		switch retry, _ := IsRetryable(err); {
		case err == nil:
			res = got
			d.m.attempts.WithLabelValues(name, "ok").Inc()
		case retry:
			rep.Err = err.Error()
			d.m.attempts.WithLabelValues(name, "retryable").Inc()
		default:
			rep.Err = err.Error()
			d.m.attempts.WithLabelValues(name, "permanent").Inc()
		}
		emit(rep)
		return err
	})
	return res, attempts, err
}
