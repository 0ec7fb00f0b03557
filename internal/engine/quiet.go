package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/silence"
)

// Silences is what the engine asks of the silences (a *silence.Store).
type Silences interface {
	// Covering returns the active silence that covers ev at now, ending
	// last, or false.
	Covering(ev alert.Event, now time.Time) (silence.Silence, bool)
}

// quietFor says whether an alert of policy p is to be quiet at now, and
// until when: an active silence that covers it, or a maintenance window of
// p, whichever ends last. nil when neither.
func (e *Engine) quietFor(p *policy.Policy, ev alert.Event, now time.Time) *Quiet {
	var q *Quiet
	if e.cfg.Silences != nil {
		if s, ok := e.cfg.Silences.Covering(ev, now); ok {
			q = &Quiet{Until: s.EndsAt.UTC(), Silence: s.ID}
		}
	}
	if p != nil {
		if end, which, ok := p.MaintenanceAt(now); ok && (q == nil || end.After(q.Until)) {
			q = &Quiet{Until: end.UTC(), Maintenance: which}
		}
	}
	return q
}

// event is the escalation's first alert, as far as matching goes.
func (esc *Escalation) event() alert.Event {
	return alert.Event{ID: esc.AlertID, Status: alert.Firing, Severity: esc.Severity, Labels: esc.Labels, Summary: esc.Summary}
}

// quieten makes esc quiet per q at now: a step recorded and not yet handed
// to a provider is dropped, its further steps wait until q ends, and the
// outcome silenced says why and until when.
func (esc *Escalation) quieten(q *Quiet, now time.Time) {
	esc.Quiet = q
	if esc.Intent != nil && !esc.Intent.Started {
		esc.Intent = nil
	}
	o := newOutcome(esc, outcome.Silenced, esc.State.Step, esc.State.Loop, now)
	o.Silence, o.Until, o.Alerts, o.Summary = q.Silence, q.Until, len(esc.Alerts), esc.Summary
	o.Reason = q.reason()
	esc.emit(o, esc.msgID(outcome.Silenced, o.Step, o.Loop, strconv.FormatInt(q.Until.Unix(), 10)))
}

// kind is what keeps it quiet, for metrics: silence or maintenance.
func (q *Quiet) kind() string {
	if q.Silence != "" {
		return "silence"
	}
	return "maintenance"
}

func (q *Quiet) reason() string {
	if q.Silence != "" {
		return fmt.Sprintf("silenced by silence %s until %s", q.Silence, q.Until.Format(time.RFC3339))
	}
	return fmt.Sprintf("in maintenance (%s) until %s", q.Maintenance, q.Until.Format(time.RFC3339))
}

// restart starts esc again from step 1, as if its alert had just fired:
// a new round, whose outcomes are new ones.
func (esc *Escalation) restart(now time.Time) {
	esc.Round++
	esc.Quiet, esc.Intent, esc.State = nil, nil, policy.State{}
	esc.apply(policy.Plan(esc.Policy, policy.State{}, policy.Input{Kind: policy.Start, At: now}, now), now)
}

// afterQuiet is the decision of a wake-up of a quiet escalation: quiet
// still (a later silence, or a window that goes on) or again started.
func (e *Engine) afterQuiet(cur *Escalation, now time.Time) *Escalation {
	if now.Before(cur.Quiet.Until) {
		return nil // early: set again
	}
	if len(cur.Alerts) == 0 {
		// Every alert resolved meanwhile: the resolution ended it
		// already. Defensive: never wake it again.
		return end(cur, policy.Resolve, "", viaAlert, now)
	}
	if q := e.quietFor(cur.Policy, cur.event(), now); q != nil {
		cur.quieten(q, now)
		return cur
	}
	cur.restart(now)
	return cur
}

// SilenceNow quietens at once the active escalations a new silence covers
// (their further steps wait for its end): it returns how many. Escalations
// a silence would cover later (a pending one) are quietened at their next
// step.
func (e *Engine) SilenceNow(ctx context.Context, s silence.Silence) (int, error) {
	now := e.clk.Now().UTC()
	if s.Status(now) != silence.Active {
		return 0, nil
	}
	keys, err := e.scanRecords(ctx, func(esc *Escalation) bool {
		ev := esc.event()
		return esc.State.Status == policy.Active && esc.Quiet == nil && s.Matches(ev)
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for key, id := range keys {
		q := &Quiet{Until: s.EndsAt.UTC(), Silence: s.ID}
		done, err := e.quiet(ctx, key, id, func(cur *Escalation) bool {
			if cur.State.Status != policy.Active || cur.Quiet != nil {
				return false
			}
			cur.quieten(q, now)
			return true
		})
		if err != nil {
			return n, err
		}
		if done {
			n++
		}
	}
	return n, nil
}

// Unsilence wakes at once the escalations silence id keeps quiet (it was
// ended early): each starts again if nothing else keeps it quiet.
func (e *Engine) Unsilence(ctx context.Context, id string) (int, error) {
	keys, err := e.scanRecords(ctx, func(esc *Escalation) bool { return esc.Quiet != nil && esc.Quiet.Silence == id })
	if err != nil {
		return 0, err
	}
	now := e.clk.Now().UTC()
	n := 0
	for key, escID := range keys {
		done, err := e.quiet(ctx, key, escID, func(cur *Escalation) bool {
			if cur.Quiet == nil || cur.Quiet.Silence != id {
				return false
			}
			cur.Quiet.Until = now
			return true
		})
		if err != nil {
			return n, err
		}
		if done {
			n++
		}
	}
	return n, nil
}

// quiet applies change to escalation id under key, and when it changed,
// sets its wake-up (replacing any timer) and publishes what it said.
func (e *Engine) quiet(ctx context.Context, key, id string, change func(*Escalation) bool) (bool, error) {
	changed := false
	s, err := e.update(ctx, key, func(cur *Escalation) (*Escalation, error) {
		changed = false
		if cur == nil || cur.ID != id || !change(cur) {
			return nil, nil
		}
		changed = true
		return cur, nil
	})
	if err != nil || !changed {
		return false, err
	}
	if err := e.schedule(ctx, s.esc); err != nil {
		return true, err
	}
	return true, e.flush(ctx, s)
}

// scanRecords returns, by key, the id of every escalation whose latest
// record keep says yes to (it reads the whole bucket).
func (e *Engine) scanRecords(ctx context.Context, keep func(*Escalation) bool) (map[string]string, error) {
	out := map[string]string{}
	err := e.scanLatest(ctx, "e.", func(r entry) {
		delete(out, r.Key)
		var esc Escalation
		if r.Deleted || json.Unmarshal(r.Data, &esc) != nil || esc.Policy == nil {
			return
		}
		if keep(&esc) {
			out[r.Key] = esc.ID
		}
	})
	if err != nil {
		return nil, fmt.Errorf("scan escalations: %w", err)
	}
	return out, nil
}
