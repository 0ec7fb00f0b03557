package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

// errBusy means a live worker (another, or this one on another goroutine)
// is placing this step's calls; the wake-up is tried again later, and takes
// over if that worker dies.
var errBusy = errors.New("step being placed by another worker")

// leaseHeld is errBusy for a step another worker holds the lease on: its
// wake-up is best tried again when the lease runs out (RetryAfter, which
// the wake-up consumer honours), so that a step whose worker died is
// placed again as soon as it may be, not after a backoff.
type leaseHeld struct{ left time.Duration }

func (l *leaseHeld) Error() string {
	return fmt.Sprintf("%v (its lease runs out in %v)", errBusy, l.left.Round(time.Millisecond))
}
func (l *leaseHeld) Is(target error) bool { return target == errBusy }

// RetryAfter is when the lease runs out, and a little more.
func (l *leaseHeld) RetryAfter() time.Duration { return l.left + leaseMargin }

// leaseMargin is how long after a lease runs out its wake-up comes back: a
// clock between workers a little apart does not make it busy once more.
const leaseMargin = 250 * time.Millisecond

// stoppedCheckTimeout bounds the look at the record that tells a provider
// calling people one after another whether to go on.
const stoppedCheckTimeout = 2 * time.Second

// runIntent places the calls of the escalation's recorded step and records
// the result.
//
// It first claims the intent: marks it started, with a lease it renews
// while the calls are placed and until their result is recorded. An intent
// found started whose lease ran out means a worker died between calling and
// recording: the step is placed again and counted as in doubt. Once the
// provider has answered, the result is recorded for as long as it takes
// (NATS may be away): the calls are placed, and giving up would have them
// placed again.
func (e *Engine) runIntent(ctx context.Context, key, id string) error {
	if _, busy := e.placing.LoadOrStore(key, struct{}{}); busy {
		return errBusy
	}
	defer e.placing.Delete(key)
	// A round-robin step's pick is taken before it is claimed, so that a
	// pick that fails (NATS away) leaves nothing in doubt: a claim that
	// finds the step without its pick saves nothing, the pick is taken,
	// and the claim tried again.
	var pick *uint64
	var err error
	inDoubt := false
	var s saved
	for picked := false; ; picked = true {
		now := e.clk.Now().UTC()
		s, err = e.update(ctx, key, func(cur *Escalation) (*Escalation, error) {
			inDoubt = false
			if cur == nil || cur.ID != id || cur.Intent == nil || cur.State.Finished() {
				return nil, errGone
			}
			in := cur.Intent
			if in.Pick == nil && in.Run.Strategy == provider.RoundRobin && len(in.Run.People) > 0 {
				if pick == nil {
					return nil, errNoPick
				}
				in.Pick = pick
			}
			if in.Started {
				if in.Owner != e.owner && now.Before(in.LeaseUntil) {
					return nil, &leaseHeld{left: in.LeaseUntil.Sub(now)}
				}
				// Whoever started it stopped before recording the result:
				// another worker whose lease ran out, or this one, whose
				// earlier attempt was cut short (it is not placing it now).
				inDoubt = true
				in.Redone++
			}
			e.claim(in, now)
			return cur, nil
		})
		if !errors.Is(err, errNoPick) || picked {
			break
		}
		if pick, err = e.roundRobin(ctx, key, id); err != nil {
			return err // nobody was called: the wake-up comes again
		}
	}
	if errors.Is(err, errGone) {
		return nil
	}
	if err != nil {
		return err // errBusy, or nobody was called: the wake-up comes again
	}
	return e.place(ctx, key, s, inDoubt)
}

// claim marks in started at now by this worker, with a fresh lease.
func (e *Engine) claim(in *Intent, now time.Time) {
	in.Started, in.StartedAt, in.Owner, in.LeaseUntil = true, now, e.owner, now.Add(e.cfg.LeaseTTL)
}

// errNoPick stops a claim of a round-robin step taken without its pick.
var errNoPick = errors.New("round-robin step without its pick")

// place places the calls of the step s's intent, which this worker has
// just claimed (its lease is fresh), and records the result: the second
// half of runIntent, and what a new escalation's alert handler runs when
// it claims the first step itself (fire).
func (e *Engine) place(ctx context.Context, key string, s saved, inDoubt bool) error {
	esc, in := s.esc, *s.esc.Intent
	now := in.StartedAt
	run := in.Run
	log := e.log.With(zap.String("escalation", esc.ID), zap.Int("step", run.Step), zap.Int("loop", run.Loop))
	if run.Strategy == provider.RoundRobin {
		run = picked(run, in.Pick)
		log.Info("round robin: this escalation's turn", zap.String("person", run.People[0].Name), zap.String("position", in.Run.RoundRobin))
	}
	if inDoubt {
		e.m.inDoubt.Inc()
		log.Warn("step in doubt (a worker stopped between calling and recording): placing it again")
	}
	req := dispatch.Request{
		EscalationID: esc.ID, AlertID: esc.AlertID, Step: run.Step, Loop: run.Loop, Summary: esc.Summary,
		Strategy: run.Strategy, StopOnAnswer: run.StopOnAnswer, PassOn: run.PassOn,
		People: run.People, Stopped: e.stopped(key, esc.ID),
	}
	reports := e.startReports(esc)
	report := func(r dispatch.Report) {
		if p, ok := e.reportOutcome(esc, run, in.Redone, inDoubt, r); ok {
			reports.add(p)
		}
	}
	e.m.steps.Inc()
	stopLease := e.keepLease(key, esc.ID, in.Redone)
	out := e.cfg.Dispatcher.Dispatch(ctx, req, run.Via, run.Wait, report)
	// The calls are placed: what is left of their outcomes may take a
	// moment to publish now.
	todo, published := reports.finish(publishTimeout)
	rec, err := e.recordResult(ctx, key, esc.ID, in, Call{Step: run.Step, Loop: run.Loop, At: now, InDoubt: inDoubt,
		Results: out.Results, Unreached: out.Unreached, NotCalled: out.NotCalled}, todo, published)
	stopLease()
	if errors.Is(err, errGone) {
		return nil
	}
	if err != nil {
		log.Error("step placed, result not recorded: it will be placed again, in doubt", zap.Error(err))
		return err
	}
	log.Info("step placed", zap.Int("reached", len(out.Reached())), zap.Int("unreached", len(out.Unreached)))
	e.watchAnswers(rec.esc, run, out.Results)
	// A worker that stops here leaves the wait without its timer; the
	// wake-up that ran this step is redelivered and sets it.
	if err := e.schedule(ctx, rec.esc); err != nil {
		return err
	}
	return e.flush(ctx, rec)
}

// recordResult saves a placed step's call: the intent is done (when it is
// still this run's: after a takeover it is the new owner's), the call is
// added to the record, and the step's outcomes not yet published go into
// the outbox. It tries until it succeeds or ctx ends.
func (e *Engine) recordResult(ctx context.Context, key, id string, in Intent, call Call, todo []Pending, published map[string]bool) (saved, error) {
	var s saved
	op := func() error {
		var err error
		s, err = e.update(ctx, key, func(cur *Escalation) (*Escalation, error) {
			if cur == nil || cur.ID != id {
				return nil, errGone
			}
			if ci := cur.Intent; ci != nil && ci.Owner == in.Owner && ci.Redone == in.Redone &&
				ci.Run.Step == in.Run.Step && ci.Run.Loop == in.Run.Loop {
				cur.Intent = nil
			}
			cur.Calls = append(cur.Calls, call)
			have := make(map[string]bool, len(cur.Outbox))
			kept := cur.Outbox[:0:0]
			for _, p := range cur.Outbox {
				if !published[p.MsgID] {
					kept = append(kept, p)
					have[p.MsgID] = true
				}
			}
			for _, p := range todo {
				if !have[p.MsgID] && !published[p.MsgID] {
					kept = append(kept, p)
				}
			}
			cur.Outbox = kept
			return cur, nil
		})
		if errors.Is(err, errGone) {
			return backoff.Permanent(err)
		}
		return err
	}
	b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(publishFirstRetry), backoff.WithMaxInterval(publishMaxRetry),
		backoff.WithMaxElapsedTime(0)) // for as long as ctx lasts
	notify := func(err error, d time.Duration) {
		e.log.Warn("record a placed step: retrying", zap.String("key", key), zap.Error(err), zap.Duration("in", d))
	}
	if err := backoff.RetryNotify(op, backoff.WithContext(b, ctx), notify); err != nil {
		return s, fmt.Errorf("record step result: %w", err)
	}
	return s, nil
}

// reportEvents are the outcome events of the dispatcher's reports.
var reportEvents = map[dispatch.ReportKind]string{
	dispatch.ReportDispatched: outcome.Dispatched, dispatch.ReportDispatchFailed: outcome.DispatchFailed,
	dispatch.ReportFallback: outcome.Fallback, dispatch.ReportRefused: outcome.Refused,
}

// reportOutcome is the outcome of one dispatcher report of run (its redone-th
// placing), or false when the report is not one to publish.
func (e *Engine) reportOutcome(esc *Escalation, run policy.StepRun, redone int, inDoubt bool, r dispatch.Report) (Pending, bool) {
	ev := reportEvents[r.Kind]
	if ev == "" {
		return Pending{}, false
	}
	now := e.clk.Now()
	o := newOutcome(esc, ev, run.Step, run.Loop, now)
	o.Provider, o.People, o.References, o.Attempt, o.Error = r.Provider, r.People, r.References, r.Attempt, r.Err
	o.Next, o.Pending, o.InDoubt, o.Reason, o.NotCalled = r.Next, r.Pending, inDoubt, r.Guard, r.NotCalled
	if len(r.References) > 0 {
		o.Reference = r.References[0]
	}
	if ev == outcome.Dispatched && esc.AlertAt.Unix() > 0 && !inDoubt && run.Step == 0 && run.Loop == 0 && esc.Round == 0 {
		e.m.firstDispatch.Observe(now.Sub(esc.AlertAt).Seconds())
	}
	return Pending{MsgID: esc.msgID(ev, run.Step, run.Loop, r.Provider, strconv.Itoa(redone), strconv.Itoa(r.Attempt)),
		Outcome: o}, true
}

// stopped tells a provider that calls people over time whether the
// escalation was acknowledged or resolved meanwhile. When the record cannot
// be read in time, it says no: calling on is safer than stopping.
func (e *Engine) stopped(key, id string) func() bool {
	return func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), stoppedCheckTimeout)
		defer cancel()
		cur, _, err := e.st.load(ctx, key)
		if err != nil || cur == nil {
			return false
		}
		return cur.ID != id || cur.State.Finished()
	}
}
