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

// answerPollMax is the longest wait between two questions to a provider.
const answerPollMax = 30 * time.Second

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

// answered records the answer in the escalation's outbox and, when the
// policy counts an answer as an acknowledgement, acknowledges it, in one
// transition; then publishes.
func (e *Engine) answered(ctx context.Context, esc *Escalation, run policy.StepRun, res dispatch.Result, by string) {
	now := e.clk.Now().UTC()
	acked := false
	s, err := e.update(ctx, esc.Key, func(cur *Escalation) (*Escalation, error) {
		acked = false
		if cur == nil || cur.ID != esc.ID {
			return nil, errGone
		}
		o := newOutcome(cur, outcome.Answered, run.Step, run.Loop, now)
		o.Provider, o.References, o.By = res.Provider, res.References, by
		if len(res.References) > 0 {
			o.Reference = res.References[0]
		}
		cur.emit(o, cur.msgID(outcome.Answered, run.Step, run.Loop, res.Provider))
		if cur.Policy.AcknowledgeOnAnswer {
			who := by
			if who == "" {
				who = res.Provider + " (answered)"
			}
			acked = end(cur, policy.Ack, who, viaAnswer, now) != nil
		}
		return cur, nil
	})
	if err != nil {
		if !errors.Is(err, errGone) {
			e.log.Error("record an answer", zap.String("escalation", esc.ID), zap.Error(err))
		}
		return
	}
	if acked {
		if err := e.rearm(ctx, s.esc); err != nil {
			e.log.Error("set the ack_timeout", zap.String("escalation", esc.ID), zap.Error(err))
		}
	}
	if err := e.flush(ctx, s); err != nil {
		e.log.Error("publish an answer", zap.String("escalation", esc.ID), zap.Error(err))
	}
}
