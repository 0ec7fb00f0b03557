package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// errBusy means another live worker is placing this step's calls; the
// wake-up is tried again later (and takes over if that worker dies).
var errBusy = errors.New("step being placed by another worker")

// runIntent places the calls of the recorded intent and records the result.
// It returns errConflict, having called nobody, when the record changed
// since it was read.
// It marks the intent started (with a lease it renews while placing the
// calls) before calling anyone; an intent found started whose lease ran out
// means a worker died between calling and recording: it is placed again and
// counted as in doubt.
func (e *Engine) runIntent(ctx context.Context, esc *Escalation, rev uint64) error {
	now := e.clk.Now().UTC()
	in := esc.Intent
	inDoubt := false
	if in.Started {
		if in.Owner != e.owner && now.Before(in.LeaseUntil) {
			return errBusy
		}
		inDoubt = true
		in.Redone++
	}
	in.Started, in.Owner, in.LeaseUntil = true, e.owner, now.Add(e.cfg.LeaseTTL)
	if _, err := e.st.save(ctx, esc, rev); err != nil {
		return err // errConflict: nobody was called; the caller looks again
	}
	run := in.Run
	log := e.log.With(zap.String("escalation", esc.ID), zap.Int("step", run.Step), zap.Int("loop", run.Loop))
	if inDoubt {
		e.m.inDoubt.Inc()
		log.Warn("step in doubt (a worker stopped between calling and recording): placing it again")
	}
	req := dispatch.Request{
		EscalationID: esc.ID, AlertID: esc.AlertID, Step: run.Step, Summary: esc.Summary,
		Strategy: provider.Strategy(run.Strategy), StopOnAnswer: run.StopOnAnswer, PassOn: run.PassOn,
		People: run.People, Stopped: e.stopped(esc.Key, esc.ID),
	}
	report := func(r dispatch.Report) {
		ev := map[dispatch.ReportKind]string{dispatch.ReportDispatched: outcome.Dispatched, dispatch.ReportDispatchFailed: outcome.DispatchFailed,
			dispatch.ReportFallback: outcome.Fallback, dispatch.ReportRefused: outcome.Refused}[r.Kind]
		if ev == "" {
			return
		}
		o := outcome.Outcome{EscalationID: esc.ID, AlertID: esc.AlertID, Policy: esc.Policy.Name, Event: ev, Step: run.Step, Loop: run.Loop,
			Provider: r.Provider, People: r.People, References: r.References, Attempt: r.Attempt, Error: r.Err, Next: r.Next,
			Pending: r.Pending, InDoubt: inDoubt, Reason: r.Guard}
		if len(r.References) > 0 {
			o.Reference = r.References[0]
		}
		if ev == outcome.Dispatched && esc.AlertAt.Unix() > 0 && !inDoubt && run.Step == 0 && run.Loop == 0 {
			e.m.firstDispatch.Observe(e.clk.Now().Sub(esc.AlertAt).Seconds())
		}
		id := outcomeID(esc.ID, ev, run.Step, run.Loop, r.Provider, strconv.Itoa(in.Redone), strconv.Itoa(r.Attempt))
		if err := e.publish(ctx, o, id); err != nil {
			log.Error("outcome lost for now; the step's record keeps it", zap.Error(err))
		}
	}
	e.m.steps.Inc()
	placed := make(chan struct{})
	go e.keepLease(ctx, esc.Key, esc.ID, run, placed)
	out := e.cfg.Dispatcher.Dispatch(ctx, req, vias(run.Via), run.Wait, report)
	close(placed)

	// Set the wait's timer, then record the result (the intent is done). In
	// this order a crash in between leaves the step in doubt (placed again,
	// and timed again), never an escalation without a timer.
	if err := e.schedule(ctx, esc); err != nil {
		return err
	}
	for {
		cur, crev, err := e.st.load(ctx, esc.Key)
		if err != nil {
			return err
		}
		if cur == nil || cur.ID != esc.ID || cur.Intent == nil || cur.Intent.Run.Step != run.Step || cur.Intent.Run.Loop != run.Loop {
			return nil
		}
		cur.Intent = nil
		cur.Calls = append(cur.Calls, Call{Step: run.Step, Loop: run.Loop, At: now, Results: out.Results, Unreached: out.Unreached})
		if _, err := e.st.save(ctx, cur, crev); errors.Is(err, errConflict) {
			continue
		} else if err != nil {
			return err
		}
		log.Info("step placed", zap.Int("reached", len(out.Reached())), zap.Int("unreached", len(out.Unreached)))
		e.watchAnswers(cur, run, out.Results)
		return nil
	}
}

// stopped tells a provider that calls people over time whether the
// escalation was acknowledged or resolved meanwhile.
func (e *Engine) stopped(key, id string) func() bool {
	return func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cur, _, err := e.st.load(ctx, key)
		if err != nil || cur == nil {
			return false
		}
		return cur.ID != id || cur.State.Finished()
	}
}

// vias converts a policy step's chain to the dispatcher's.
func vias(vs []policy.Via) []dispatch.Via {
	out := make([]dispatch.Via, 0, len(vs))
	for _, v := range vs {
		d := dispatch.Via{Provider: v.Provider}
		if v.IoTCall != nil {
			d.IoTCall = &dispatch.IoTCallVia{Rule: v.IoTCall.Rule}
		}
		if v.Yemot != nil {
			d.Yemot = &dispatch.YemotVia{IVRPath: v.Yemot.IVRPath, CallerID: v.Yemot.CallerID, Ring: v.Yemot.Ring, Tzintuk: v.Yemot.Tzintuk}
		}
		if v.CCAI != nil {
			d.CCAI = &dispatch.CCAIVia{Agents: v.CCAI.Agents, MenuID: v.CCAI.MenuID, OutboundNumber: v.CCAI.OutboundNumber, Lang: v.CCAI.Lang}
		}
		out = append(out, d)
	}
	return out
}

// keepLease renews this worker's lease on the intent of run every third of
// LeaseTTL until placed is closed, or the intent is no longer ours.
func (e *Engine) keepLease(ctx context.Context, key, id string, run policy.StepRun, placed <-chan struct{}) {
	for {
		select {
		case <-placed:
			return
		case <-ctx.Done():
			return
		case <-e.clk.After(e.cfg.LeaseTTL / 3):
		}
		for {
			cur, rev, err := e.st.load(ctx, key)
			if err != nil || cur == nil || cur.ID != id || cur.Intent == nil || cur.Intent.Owner != e.owner ||
				cur.Intent.Run.Step != run.Step || cur.Intent.Run.Loop != run.Loop {
				return
			}
			cur.Intent.LeaseUntil = e.clk.Now().UTC().Add(e.cfg.LeaseTTL)
			if _, err := e.st.save(ctx, cur, rev); !errors.Is(err, errConflict) {
				break
			}
		}
	}
}
