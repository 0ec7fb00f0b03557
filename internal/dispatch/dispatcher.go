package dispatch

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
// tried for them. A person with several numbers (provider.Person.Numbers)
// is tried on each of them at a link before going on to the next link (see
// link). Each provider may take Budget(wait), all its requests together.
// People over the per-person cap are refused and not passed on. Everything
// that happens is passed to report (nil: discarded) as it happens; the
// Outcome sums it up. Every person in a report, a Result or the Outcome
// carries the one number it is about (Phone), never the others.
func (d *Dispatcher) Dispatch(ctx context.Context, req Request, chain []provider.Via, wait time.Duration, report func(Report)) Outcome {
	emit := func(r Report) {
		r.Err = d.redact(r.Err)
		if report != nil {
			report(r)
		}
	}
	ctx = withRequest(ctx, req)
	var out Outcome
	remaining := make([]*callee, len(req.People))
	for i, p := range req.People {
		remaining[i] = &callee{index: i, person: p, tried: p, why: "no provider in the step's chain"}
	}
	budget := d.Budget(wait)

	for i, via := range chain {
		if len(remaining) == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			d.because(remaining, "dispatch stopped: "+err.Error())
			break
		}
		if i > 0 && stopped(req) {
			// Acknowledged or resolved while the chain went on: nobody
			// else is called for this step.
			out.NotCalled = append(out.NotCalled, notCalled(remaining, "the escalation was acknowledged or resolved before "+via.Provider+" was tried")...)
			remaining = nil
			break
		}
		remaining = d.link(ctx, req, via, remaining, budget, &out, emit)
		if len(remaining) > 0 && i+1 < len(chain) {
			next := chain[i+1].Provider
			d.m.fallbacks.WithLabelValues(via.Provider, next).Inc()
			emit(Report{Kind: ReportFallback, Provider: via.Provider, Next: next, People: tried(remaining),
				Err: remaining[0].why})
			d.log.Info("falling back", zap.String("from", via.Provider), zap.String("to", next),
				zap.Int("people", len(remaining)), zap.String("escalation", req.EscalationID))
		}
	}
	for _, c := range remaining {
		out.Unreached = append(out.Unreached, provider.Unreached{Person: c.tried, Reason: c.why})
	}
	return out
}

// stopped says whether the escalation was acknowledged or resolved since the
// step began (Request.Stopped; never, when the caller gave no way to tell).
func stopped(req Request) bool { return req.Stopped != nil && req.Stopped() }

// notCalled is people not called on purpose, with why, each with the number
// last tried (or as given).
func notCalled(people []*callee, why string) []provider.Unreached {
	out := make([]provider.Unreached, 0, len(people))
	for _, c := range people {
		out = append(out, provider.Unreached{Person: c.tried, Reason: why})
	}
	return out
}

// callee is one person of a step on their way through the chain.
type callee struct {
	index  int             // their place in the step's people
	person provider.Person // as the step gives them, with every number
	// numbers are their numbers for the link being tried, and next the
	// index of the one to try next.
	numbers []string
	next    int
	// tried is the person with the number last tried alone (before any:
	// as given), and why says why they are not reached yet.
	tried provider.Person
	why   string
}

// start readies c for the provider name, from its first number.
func (c *callee) start(name string) {
	c.numbers, c.next = c.person.Numbers(name), 0
}

// take moves c on to its next number and returns c with that number alone,
// as a provider's Request carries people.
func (c *callee) take() provider.Person {
	q := c.person
	q.Phone, q.Alternates, q.ByProvider = c.numbers[c.next], nil, nil
	c.next++
	c.tried = q
	return q
}

// more reports whether c has a number left at the current provider.
func (c *callee) more() bool { return c.next < len(c.numbers) }

func tried(cs []*callee) []provider.Person {
	out := make([]provider.Person, len(cs))
	for i, c := range cs {
		out[i] = c.tried
	}
	return out
}

// because sets why cs are not reached (redacted: it ends in the Outcome).
func (d *Dispatcher) because(cs []*callee, why string) {
	for _, c := range cs {
		c.why = d.redact(why)
	}
}

// minRound is the budget of a link's request for further numbers when the
// link's budget is spent: one attempt, no retry.
const minRound = time.Millisecond

// link tries one link of the chain for people and returns those it did not
// reach and that may go on to the next link, in the step's order.
//
// Each person is asked for with their first number for this provider. The
// people the provider's Result reports Failed (their number refused, or not
// reached) are asked for again with their next number, in a request of just
// them, in their order, with the step's strategy and settings; and so on
// until they have no number left, when they go on to the next link. People
// the provider reached, or did not call on purpose (NotCalled), are not
// asked for again. When a request fails as a whole (an error: the provider
// is down, refuses the request, or a guard refuses it), its people go on to
// the next link at once: their numbers are not the problem. A provider that
// refuses every number of a request one by one returns an error and a
// Result naming each person Failed: those go on to their next numbers.
//
// How further numbers meet each strategy — the provider's Result says who
// may be tried further, and the dispatcher only follows it:
//   - single: the person's numbers are called one after another.
//   - broadcast: everyone's first number at once; those that failed get
//     their next numbers in a broadcast of just them. stop_on_answer holds
//     within one request only. An IoTCall broadcast rule is never fired with
//     one number: the client refuses it, reports the person Failed, and the
//     person goes on to the next link.
//   - rotation: the rotation runs over everyone's first number; the people
//     whose number failed are then called in a rotation of their own on
//     their next numbers (after the first rotation, not in their turn). The
//     rest of a rotation that stopped because someone answered, or because
//     the escalation was acknowledged, are NotCalled, and never asked for
//     again. As for a broadcast, an IoTCall rotation rule is never fired
//     with one number.
//   - round_robin: the engine places it as single.
//
// The retry wrapper and the provider guards apply to each request as to any;
// the requests of one link share its budget, and a request made once the
// budget is spent gets one attempt. The per-person cap counts calls per
// number, as it always has: each number tried is counted, a number the
// provider did not call is given back, and a number over the cap is refused
// and its person neither asked for on their other numbers nor passed on.
//
// The attempts reported (Report.Attempt) are counted across the link's
// requests, so that no two reports of one kind, provider and step carry the
// same number (the engine's outcome ids are made of them).
func (d *Dispatcher) link(ctx context.Context, req Request, via provider.Via, people []*callee, budget time.Duration,
	out *Outcome, emit func(Report)) []*callee {
	name := via.Provider
	for _, c := range people {
		c.start(name)
	}
	p, ok := d.providers[name]
	if !ok {
		err := fmt.Sprintf("dispatch via %s: provider not configured", name)
		d.m.calls.WithLabelValues(name, "failed").Inc()
		for _, c := range people {
			c.take()
		}
		emit(Report{Kind: ReportDispatchFailed, Provider: name, People: tried(people), Err: err})
		d.because(people, err)
		return people
	}

	l := &linkRun{d: d, req: req, via: via, p: &keeper{Provider: p}, deadline: d.clk.Now().Add(budget), out: out, emit: emit}
	var onward []*callee
	for round, first := people, true; len(round) > 0; first = false {
		if err := ctx.Err(); err != nil && !first {
			d.because(round, "dispatch stopped: "+err.Error())
			onward = append(onward, round...)
			break
		}
		if !first && stopped(req) {
			// Acknowledged or resolved meanwhile: no further numbers, and
			// nobody passed on.
			out.NotCalled = append(out.NotCalled, notCalled(round, "the escalation was acknowledged or resolved before their next number was tried")...)
			break
		}
		var pass []*callee
		round, pass = l.request(ctx, round)
		onward = append(onward, pass...)
		if len(round) > 0 {
			d.log.Info("trying further numbers", zap.String("provider", name), zap.Int("people", len(round)),
				zap.String("escalation", req.EscalationID))
		}
	}
	slices.SortFunc(onward, func(a, b *callee) int { return a.index - b.index })
	return onward
}

// linkRun is one link of the chain being tried.
type linkRun struct {
	d        *Dispatcher
	req      Request
	via      provider.Via
	p        *keeper
	deadline time.Time
	attempts int // made at this provider for this step, every request's
	out      *Outcome
	emit     func(Report)
}

// request asks the provider for people, each with their next number, and
// returns those to ask for again with their next number, and those that go
// on to the next link. People refused by the per-person cap are in neither.
func (l *linkRun) request(ctx context.Context, people []*callee) (again, onward []*callee) {
	d, name := l.d, l.via.Provider
	before := l.attempts
	emit := func(r Report) {
		// The helpers count attempts from 1 in each request.
		if r.Kind == ReportAttempt || r.Kind == ReportRefused {
			r.Attempt += before
		}
		l.emit(r)
	}
	copies := make([]provider.Person, len(people))
	for i, c := range people {
		copies[i] = c.take()
	}
	allowed, undo := d.capPeople(name, copies, l.out, emit)
	if len(allowed) == 0 {
		return nil, nil
	}
	// capPeople keeps the order and drops the refused.
	callees := make([]*callee, 0, len(allowed))
	for i, j := 0, 0; i < len(copies) && j < len(allowed); i++ {
		if samePerson(copies[i], allowed[j]) {
			callees = append(callees, people[i])
			j++
		}
	}

	sub := l.req
	sub.People, sub.Via = allowed, l.via
	l.p.res, l.p.err = Result{}, nil
	res, n, err := d.call(ctx, l.p, sub, max(l.deadline.Sub(d.clk.Now()), minRound), emit)
	l.attempts += n
	l.out.Attempts += n
	if err != nil {
		got, each := l.p.refusedEach(allowed)
		if !each {
			for _, u := range undo {
				u()
			}
			result := "failed"
			if _, refused := IsRefused(err); refused {
				result = "refused"
			}
			d.m.calls.WithLabelValues(name, result).Inc()
			msg := err.Error()
			l.emit(Report{Kind: ReportDispatchFailed, Provider: name, People: allowed, Attempt: l.attempts, Err: msg})
			d.log.Warn("dispatch failed", zap.String("provider", name), zap.Int("attempts", n),
				zap.String("escalation", l.req.EscalationID), zap.String("error", d.redact(msg)))
			d.because(callees, msg)
			return nil, callees
		}
		res = got
	}

	// The provider says whom it called; anyone it does not mention is taken
	// as not called (a missed page is worse than a second call).
	called := make(map[string]bool, len(res.Reached))
	for _, p := range res.Reached {
		called[personKey(p)] = true
	}
	failed := make(map[string]string, len(res.Failed))
	for _, f := range res.Failed {
		failed[personKey(f.Person)] = f.Reason
	}
	skipped := make(map[string]string, len(res.NotCalled))
	for _, f := range res.NotCalled {
		skipped[personKey(f.Person)] = f.Reason
	}
	var reached []provider.Person
	var notCalled, notReached []provider.Unreached
	var texts []string
	for i, q := range allowed {
		c := callees[i]
		switch why, isSkipped := skipped[personKey(q)]; {
		case called[personKey(q)]:
			reached = append(reached, q)
		case isSkipped:
			undo[i]()
			notCalled = append(notCalled, provider.Unreached{Person: q, Reason: d.redact(why)})
		default:
			undo[i]()
			why, ok := failed[personKey(q)]
			if !ok {
				why = "not reported by the provider"
			}
			why = d.redact(why)
			notReached = append(notReached, provider.Unreached{Person: q, Reason: why})
			c.why = d.redact(fmt.Sprintf("%s did not call %s on %s: %s", name, q.Name, q.Phone, why))
			text := q.Name + ": " + why
			if c.more() {
				text += fmt.Sprintf(", trying %s's next number %s", q.Name, c.numbers[c.next])
				again = append(again, c)
			} else {
				onward = append(onward, c)
			}
			texts = append(texts, text)
		}
	}
	l.out.NotCalled = append(l.out.NotCalled, notCalled...)
	failedPeople := make([]provider.Person, len(notReached))
	for i, u := range notReached {
		failedPeople[i] = u.Person
	}
	if len(reached) == 0 && len(notCalled) == 0 {
		d.m.calls.WithLabelValues(name, "failed").Inc()
		l.emit(Report{Kind: ReportDispatchFailed, Provider: name, People: failedPeople, Attempt: l.attempts,
			Err: strings.Join(texts, "; ")})
		return again, onward
	}
	res.Provider = name
	res.Reached, res.Failed, res.NotCalled = reached, notReached, notCalled
	l.out.Results = append(l.out.Results, res)
	result := "accepted"
	switch {
	case res.Pending:
		result = "pending"
	case len(notReached) > 0 || len(notCalled) > 0:
		result = "partial"
	}
	d.m.calls.WithLabelValues(name, result).Inc()
	l.emit(Report{Kind: ReportDispatched, Provider: name, People: reached, References: res.References,
		Attempt: l.attempts, Pending: res.Pending, NotCalled: notCalled})
	d.log.Info("dispatched", zap.String("provider", name), zap.Int("attempts", n),
		zap.Int("reached", len(reached)), zap.Int("not_called", len(notCalled)), zap.Strings("references", res.References),
		zap.String("escalation", l.req.EscalationID))
	if len(notReached) > 0 {
		l.emit(Report{Kind: ReportDispatchFailed, Provider: name, People: failedPeople, Attempt: l.attempts,
			Err: strings.Join(texts, "; ")})
	}
	return again, onward
}

// personKey identifies a person of one request: their name and the number
// tried (two people may share a number).
func personKey(p provider.Person) string { return p.Name + "\x00" + p.Phone }

func samePerson(a, b provider.Person) bool { return personKey(a) == personKey(b) }

// keeper is a provider as one link sees it, keeping what its last Call
// returned: a provider that refuses every number of a request one by one
// says so with an error (nothing was placed, and the retry wrapper must not
// take it for a success) and a Result naming each person Failed, and those
// people may still be reached on their next numbers.
type keeper struct {
	Provider
	res Result
	err error
}

// Call implements Provider.
func (k *keeper) Call(ctx context.Context, req Request) (Result, error) {
	res, err := k.Provider.Call(ctx, req)
	k.res, k.err = res, err
	return res, err
}

// AttemptTimeout implements AttemptTimer as the provider does.
func (k *keeper) AttemptTimeout(base time.Duration, req Request) time.Duration {
	return attemptTimeout(k.Provider, base, req)
}

// refusedEach returns the Result of the provider's last error when that
// error is permanent and the Result accounts for each of people, with at
// least one Failed: the provider refused the request because of its
// numbers, one by one. Otherwise ok is false.
func (k *keeper) refusedEach(people []provider.Person) (res Result, ok bool) {
	if k.err == nil || len(k.res.Failed) == 0 {
		return Result{}, false
	}
	if retry, _ := IsRetryable(k.err); retry {
		return Result{}, false
	}
	if _, refused := IsRefused(k.err); refused {
		return Result{}, false
	}
	named := make(map[string]bool, len(k.res.Failed)+len(k.res.NotCalled))
	for _, f := range k.res.Failed {
		named[personKey(f.Person)] = true
	}
	for _, f := range k.res.NotCalled {
		named[personKey(f.Person)] = true
	}
	for _, p := range people {
		if !named[personKey(p)] {
			return Result{}, false
		}
	}
	res = k.res
	res.Reached = nil
	return res, true
}
