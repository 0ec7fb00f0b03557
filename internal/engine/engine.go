// Package engine runs escalations: it starts them from alerts, keeps their
// state in a JetStream KV bucket (compare-and-set, so several workers can run
// against one cluster), applies the policy's pure plan, places calls through
// the dispatcher, sets durable JetStream timers for the waits, and publishes
// every outcome. Every handler is idempotent: JetStream delivers at least
// once and timers can fire twice.
package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/consumer"
	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/policy"
)

// Dispatcher places a step's calls (implemented by *dispatch.Dispatcher).
type Dispatcher interface {
	Dispatch(ctx context.Context, req dispatch.Request, chain []dispatch.Via, wait time.Duration, report func(dispatch.Report)) dispatch.Outcome
}

// Config configures an Engine.
type Config struct {
	JS jetstream.JetStream
	// Policies returns the current policy set (for new escalations).
	Policies   func() *policy.Set
	Dispatcher Dispatcher
	Clock      clock.Clock
	Logger     *zap.Logger
	Registerer prometheus.Registerer
	// PublishRetryFor bounds the retries of one outcome publish (default 2m);
	// past it the event is redelivered and the publish tried again.
	PublishRetryFor time.Duration
	// Answerers are the providers that can tell whether a call was answered
	// (found on the providers by type assertion); their answers are polled
	// after each step and published as `answered`.
	Answerers map[string]dispatch.AnswerChecker
	// AnswerPollFirst is the first wait before asking (default 5s); the
	// wait doubles up to 30s.
	AnswerPollFirst time.Duration
	// LeaseTTL is how long the lease on a step being placed lasts; the
	// placing worker renews it every third of that. A worker that dies
	// stops renewing, and once the lease has run out another worker places
	// the step again (default 30s).
	LeaseTTL time.Duration
}

// Engine is the escalation engine. It implements consumer.Handler (alerts)
// and consumer.WakeupHandler (timers and step runs).
type Engine struct {
	cfg    Config
	js     jetstream.JetStream
	st     store
	timers jetstream.Stream
	clk    clock.Clock
	log    *zap.Logger
	m      *engineMetrics
	// owner names this worker in intents' leases.
	owner string
	// bg runs background work (answer polls) until Close.
	bg     context.Context
	stopBg context.CancelFunc
	wg     sync.WaitGroup
}

// Close stops the engine's background work and waits for it.
func (e *Engine) Close() {
	e.stopBg()
	e.wg.Wait()
}

// New opens the engine's bucket and stream (natsx.EnsureEngine must have run).
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.JS == nil || cfg.Policies == nil || cfg.Dispatcher == nil {
		return nil, errors.New("new engine: JetStream, Policies and Dispatcher are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.AnswerPollFirst <= 0 {
		cfg.AnswerPollFirst = defaultAnswerPollFirst
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 30 * time.Second
	}
	if cfg.PublishRetryFor <= 0 {
		cfg.PublishRetryFor = 2 * time.Minute
	}
	kv, err := cfg.JS.KeyValue(ctx, natsx.BucketEscalations)
	if err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	timers, err := cfg.JS.Stream(ctx, natsx.StreamTimers)
	if err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	return &Engine{cfg: cfg, js: cfg.JS, st: store{kv: kv}, timers: timers, clk: cfg.Clock,
		log: cfg.Logger.With(zap.String("component", "engine")), m: newMetrics(cfg.Registerer), owner: nuid.Next(),
		bg: bg, stopBg: stop}, nil
}

var (
	_ consumer.Handler       = (*Engine)(nil)
	_ consumer.WakeupHandler = (*Engine)(nil)
)

// HandleAlert implements consumer.Handler.
func (e *Engine) HandleAlert(ctx context.Context, d consumer.Delivery) error {
	switch d.Event.Status {
	case alert.Firing:
		return e.fire(ctx, d)
	case alert.Acknowledged:
		return e.stop(ctx, d, policy.Ack)
	case alert.Resolved:
		return e.stop(ctx, d, policy.Resolve)
	}
	return nil
}

// fire starts an escalation for a firing alert, or joins the active one of
// its group.
func (e *Engine) fire(ctx context.Context, d consumer.Delivery) error {
	ev := d.Event
	set := e.cfg.Policies()
	var p *policy.Policy
	if set != nil {
		p, _ = set.Match(ev)
	}
	if p == nil {
		e.m.unmatched.Inc()
		e.log.Warn("alert matches no policy", zap.String("alert", ev.ID))
		return e.publish(ctx, outcome.Outcome{EscalationID: "unmatched", AlertID: ev.ID, Event: outcome.Unmatched, Summary: ev.Summary,
			Reason: "no policy matches this alert"}, fmt.Sprintf("unmatched/%d", d.StreamSeq))
	}
	tok := hash(p.Name, groupKey(p, ev.ID, ev.Labels))
	key := escKey(tok)
	// The index from alert id to escalation, for acks and resolves that
	// carry only the id.
	if _, err := e.st.kv.Put(ctx, alertKey(ev.ID), []byte(key)); err != nil {
		return fmt.Errorf("index alert: %w", err)
	}
	for {
		esc, rev, err := e.st.load(ctx, key)
		if err != nil {
			return err
		}
		if esc != nil && esc.ID == fmt.Sprintf("%s-%d", tok, d.StreamSeq) {
			// This very alert started it and is delivered again: the worker
			// that started it may have stopped after saving it and before
			// publishing its outcomes. Publish them again (the same plan, so
			// the same message ids: each is stored once).
			start := policy.Plan(esc.Policy, policy.State{}, policy.Input{Kind: policy.Start, At: esc.CreatedAt}, esc.CreatedAt)
			if err := e.publishDecision(ctx, esc, start); err != nil {
				return err
			}
		}
		now := e.clk.Now().UTC()
		if esc != nil && (esc.State.Status == policy.Active || esc.State.Status == policy.Acknowledged) {
			if contains(esc.Alerts, ev.ID) {
				// Already part of it: a redelivery, or a sender repeating a
				// firing alert. Make sure a recorded step was handed on.
				if esc.Intent != nil && !esc.Intent.Started {
					return e.runNow(ctx, esc)
				}
				// Make sure its timer is set: a worker may have died between
				// saving the escalation and setting it (setting it again
				// replaces it).
				if esc.Intent == nil && esc.State.Status == policy.Active {
					return e.schedule(ctx, esc)
				}
				return nil
			}
			esc.Alerts = append(esc.Alerts, ev.ID)
			esc.Grouped++
			if _, err := e.st.save(ctx, esc, rev); errors.Is(err, errConflict) {
				continue
			} else if err != nil {
				return err
			}
			e.m.grouped.Inc()
			return e.publish(ctx, outcome.Outcome{EscalationID: esc.ID, AlertID: ev.ID, Policy: esc.Policy.Name, Event: outcome.Grouped,
				Step: esc.State.Step, Loop: esc.State.Loop, Alerts: len(esc.Alerts), Summary: ev.Summary},
				outcomeID(esc.ID, outcome.Grouped, 0, 0, ev.ID))
		}
		if esc != nil && esc.ID == fmt.Sprintf("%s-%d", tok, d.StreamSeq) {
			return nil // this very alert started it, and it has finished
		}
		snapshot := *p
		nesc := &Escalation{
			ID: fmt.Sprintf("%s-%d", tok, d.StreamSeq), Key: key, Policy: &snapshot, GroupKey: groupKey(p, ev.ID, ev.Labels),
			AlertID: ev.ID, Alerts: []string{ev.ID}, Summary: ev.Summary, Severity: ev.Severity, Labels: ev.Labels,
			CreatedAt: now, AlertAt: d.Stored,
		}
		dec := policy.Plan(nesc.Policy, policy.State{}, policy.Input{Kind: policy.Start, At: now}, now)
		nesc.State = dec.State
		if dec.Run != nil {
			nesc.Intent = &Intent{Run: *dec.Run}
		}
		if _, err := e.st.save(ctx, nesc, rev); errors.Is(err, errConflict) {
			continue
		} else if err != nil {
			return err
		}
		e.m.started.Inc()
		e.log.Info("escalation started", zap.String("escalation", nesc.ID), zap.String("policy", p.Name), zap.String("alert", ev.ID))
		if err := e.publishDecision(ctx, nesc, dec); err != nil {
			return err
		}
		if nesc.Intent != nil {
			return e.runNow(ctx, nesc)
		}
		return e.schedule(ctx, nesc)
	}
}

// publishDecision publishes the outcome events of a plan decision.
func (e *Engine) publishDecision(ctx context.Context, esc *Escalation, dec policy.Decision) error {
	for _, s := range dec.Skipped {
		if err := e.publish(ctx, outcome.Outcome{EscalationID: esc.ID, AlertID: esc.AlertID, Policy: esc.Policy.Name, Event: outcome.Skipped,
			Step: s.Step, Loop: s.Loop, Reason: s.Reason}, outcomeID(esc.ID, outcome.Skipped, s.Step, s.Loop)); err != nil {
			return err
		}
	}
	for _, name := range dec.Events {
		o := outcome.Outcome{EscalationID: esc.ID, AlertID: esc.AlertID, Policy: esc.Policy.Name, Event: name,
			Step: dec.State.Step, Loop: dec.State.Loop, By: dec.State.By, Alerts: len(esc.Alerts), Summary: esc.Summary}
		if err := e.publish(ctx, o, outcomeID(esc.ID, name, o.Step, o.Loop)); err != nil {
			return err
		}
		if name == outcome.Exhausted {
			e.m.exhausted.Inc()
		}
	}
	return nil
}

// stop applies an acknowledgement or a resolution to the alert's escalation.
// With grouping, the escalation is resolved when its last alert resolves.
func (e *Engine) stop(ctx context.Context, d consumer.Delivery, kind policy.InputKind) error {
	ev := d.Event
	entry, err := e.st.kv.Get(ctx, alertKey(ev.ID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		e.log.Info("no escalation for this alert", zap.String("alert", ev.ID), zap.String("status", string(ev.Status)))
		return nil
	} else if err != nil {
		return fmt.Errorf("find escalation: %w", err)
	}
	key := string(entry.Value())
	for {
		esc, rev, err := e.st.load(ctx, key)
		if err != nil || esc == nil {
			return err
		}
		now := e.clk.Now().UTC()
		if !contains(esc.Alerts, ev.ID) && esc.AlertID != ev.ID {
			return nil
		}
		var dec policy.Decision
		switch {
		case kind == policy.Resolve && len(esc.Alerts) > 1 && contains(esc.Alerts, ev.ID):
			// Other alerts of the group still fire: only this one leaves.
			esc.Alerts = remove(esc.Alerts, ev.ID)
			if _, err := e.st.save(ctx, esc, rev); errors.Is(err, errConflict) {
				continue
			} else {
				return err
			}
		case kind == policy.Resolve && esc.State.Status == policy.Acknowledged:
			// Acknowledged, and now over: say so.
			dec = policy.Decision{State: esc.State, Events: []string{outcome.Resolved}}
			dec.State.Status = policy.Resolved
		default:
			dec = policy.Plan(esc.Policy, esc.State, policy.Input{Kind: kind, At: now, By: ev.By}, now)
		}
		if len(dec.Events) == 0 {
			if d.NumDelivered > 1 {
				// Delivered again: this event may be the one that stopped
				// it, on a worker that died after saving and before
				// publishing. Publish again (same message id: stored once).
				return e.republishStop(ctx, esc, kind)
			}
			return nil // finished already: nothing changes
		}
		esc.State = dec.State
		if kind == policy.Resolve {
			esc.Alerts = remove(esc.Alerts, ev.ID)
		}
		if esc.Intent != nil && !esc.Intent.Started {
			esc.Intent = nil // recorded but nobody called yet: it will not be
		}
		if _, err := e.st.save(ctx, esc, rev); errors.Is(err, errConflict) {
			continue
		} else if err != nil {
			return err
		}
		e.cancel(ctx, key)
		e.log.Info("escalation stopped", zap.String("escalation", esc.ID), zap.String("by", ev.By), zap.Strings("events", dec.Events))
		return e.publishDecision(ctx, esc, dec)
	}
}

// republishStop publishes again the outcome of an acknowledgement or a
// resolution that esc's state shows was applied, and cancels its timer again.
func (e *Engine) republishStop(ctx context.Context, esc *Escalation, kind policy.InputKind) error {
	name := ""
	switch {
	case kind == policy.Ack && esc.State.Status == policy.Acknowledged:
		name = outcome.Acknowledged
	case kind == policy.Resolve && esc.State.Status == policy.Resolved:
		name = outcome.Resolved
	default:
		return nil
	}
	e.cancel(ctx, esc.Key)
	return e.publishDecision(ctx, esc, policy.Decision{State: esc.State, Events: []string{name}})
}

// HandleWakeup implements consumer.WakeupHandler: it places a recorded step,
// or moves an escalation on when its wait has ended.
func (e *Engine) HandleWakeup(ctx context.Context, w consumer.Wakeup) error {
	var msg wake
	if err := jsonUnmarshal(w.Data, &msg); err != nil {
		e.log.Error("malformed wake-up dropped", zap.String("subject", w.Subject), zap.Error(err))
		return nil
	}
	key := escKey(w.Key)
	for {
		esc, rev, err := e.st.load(ctx, key)
		if err != nil {
			return err
		}
		if esc == nil || esc.ID != msg.ID {
			return nil // an escalation that is gone or replaced
		}
		if esc.Intent != nil {
			if esc.State.Finished() {
				return nil
			}
			if err := e.runIntent(ctx, esc, rev); !errors.Is(err, errConflict) {
				return err
			}
			continue // changed before anyone was called (an alert joined): look again
		}
		if msg.Kind == "timer" && esc.State.Status == policy.Exhausted && w.NumDelivered > 1 {
			// A timer delivered again that finds the escalation exhausted
			// may be the one that exhausted it, on a worker that stopped
			// after saving and before publishing: publish it again (same
			// message id: stored once).
			o := outcome.Outcome{EscalationID: esc.ID, AlertID: esc.AlertID, Policy: esc.Policy.Name, Event: outcome.Exhausted,
				Step: esc.State.Step, Loop: esc.State.Loop, By: esc.State.By, Alerts: len(esc.Alerts), Summary: esc.Summary}
			return e.publish(ctx, o, outcomeID(esc.ID, outcome.Exhausted, o.Step, o.Loop))
		}
		if msg.Kind != "timer" || esc.State.Finished() {
			return nil
		}
		now := e.clk.Now().UTC()
		if now.Before(msg.At) {
			// Early (clocks differ): set it again.
			return e.schedule(ctx, esc)
		}
		dec := policy.Plan(esc.Policy, esc.State, policy.Input{Kind: policy.Timer, At: msg.At}, now)
		if dec.Run == nil && len(dec.Events) == 0 && len(dec.Skipped) == 0 {
			// Stale or duplicate. It may also be the redelivery of a timer
			// whose handler died after saving the next state but before
			// setting the next timer: set it again (it replaces).
			return e.schedule(ctx, esc)
		}
		esc.State = dec.State
		if dec.Run != nil {
			esc.Intent = &Intent{Run: *dec.Run}
		}
		nrev, err := e.st.save(ctx, esc, rev)
		if errors.Is(err, errConflict) {
			continue
		} else if err != nil {
			return err
		}
		if err := e.publishDecision(ctx, esc, dec); err != nil {
			return err
		}
		if esc.Intent != nil {
			if err := e.runIntent(ctx, esc, nrev); !errors.Is(err, errConflict) {
				return err
			}
			continue
		}
		return e.schedule(ctx, esc)
	}
}
