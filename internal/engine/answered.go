package engine

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/policy"
)

// Default answer-polling pace.
const (
	defaultAnswerPollFirst = 5 * time.Second
	answerPollMax          = 30 * time.Second
)

// watchAnswers starts, for each provider result of a step whose provider can
// tell whether its calls were answered, a poll that publishes `answered` and,
// when the policy says an answer counts, acknowledges the escalation. Polls
// live in this worker's memory: if it stops they stop, and people's own
// acknowledgements remain the path that always works.
func (e *Engine) watchAnswers(esc *Escalation, run policy.StepRun, results []dispatch.Result) {
	for _, res := range results {
		ac, ok := e.cfg.Answerers[res.Provider]
		if !ok || len(res.References) == 0 {
			continue
		}
		e.wg.Add(1)
		go func(res dispatch.Result) {
			defer e.wg.Done()
			e.pollAnswered(esc, run, res, ac)
		}(res)
	}
}

// pollAnswered asks with backoff until the provider knows, the step's wait is
// over, or the escalation has stopped.
func (e *Engine) pollAnswered(esc *Escalation, run policy.StepRun, res dispatch.Result, ac dispatch.AnswerChecker) {
	ctx := e.bg
	log := e.log.With(zap.String("escalation", esc.ID), zap.Int("step", run.Step), zap.String("provider", res.Provider))
	deadline := e.clk.Now().Add(run.Wait)
	stopped := e.stopped(esc.Key, esc.ID)
	delay := e.cfg.AnswerPollFirst
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.clk.After(delay):
		}
		if e.clk.Now().After(deadline) || stopped() {
			return
		}
		answered, by, done, err := ac.Answered(ctx, res)
		switch {
		case err != nil:
			log.Warn("ask whether the call was answered", zap.Error(err))
		case answered:
			log.Info("call answered", zap.String("by", by))
			e.answered(ctx, esc, run, res, by)
			return
		case done:
			return
		}
		delay = min(delay*2, answerPollMax)
	}
}

// answered publishes the answer and, when the policy counts it, acknowledges.
func (e *Engine) answered(ctx context.Context, esc *Escalation, run policy.StepRun, res dispatch.Result, by string) {
	o := outcome.Outcome{EscalationID: esc.ID, AlertID: esc.AlertID, Policy: esc.Policy.Name, Event: outcome.Answered, Step: run.Step,
		Loop: run.Loop, Provider: res.Provider, References: res.References, By: by}
	if len(res.References) > 0 {
		o.Reference = res.References[0]
	}
	if err := e.publish(ctx, o, outcomeID(esc.ID, outcome.Answered, run.Step, run.Loop, res.Provider)); err != nil {
		e.log.Error("publish answered", zap.Error(err))
	}
	if !esc.Policy.AcknowledgeOnAnswer {
		return
	}
	if by == "" {
		by = res.Provider + " (answered)"
	}
	if err := e.acknowledge(ctx, esc.Key, esc.ID, by); err != nil {
		e.log.Error("acknowledge on answer", zap.String("escalation", esc.ID), zap.Error(err))
	}
}

// acknowledge stops the escalation id under key, as an ack event would.
func (e *Engine) acknowledge(ctx context.Context, key, id, by string) error {
	for {
		esc, rev, err := e.st.load(ctx, key)
		if err != nil || esc == nil || esc.ID != id {
			return err
		}
		now := e.clk.Now().UTC()
		dec := policy.Plan(esc.Policy, esc.State, policy.Input{Kind: policy.Ack, At: now, By: by}, now)
		if len(dec.Events) == 0 {
			return nil
		}
		esc.State = dec.State
		if esc.Intent != nil && !esc.Intent.Started {
			esc.Intent = nil
		}
		if _, err := e.st.save(ctx, esc, rev); errors.Is(err, errConflict) {
			continue
		} else if err != nil {
			return err
		}
		e.cancel(ctx, key)
		return e.publishDecision(ctx, esc, dec)
	}
}
