package yemot

import (
	"context"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch"
)

// Provider returns c as a dispatch.Provider with the optional abilities
// its Config turns on, found by the worker by type assertion:
// dispatch.AnswerChecker with CheckAnswered, dispatch.Acknowledger with
// SMSAck. Every one of them is also a dispatch.AttemptTimer.
func (c *Client) Provider() dispatch.Provider {
	switch {
	case c.cfg.CheckAnswered && c.cfg.SMSAck:
		return answeringAcknowledging{c}
	case c.cfg.CheckAnswered:
		return answering{c}
	case c.cfg.SMSAck:
		return acknowledging{c}
	}
	return c
}

// answering adds dispatch.AnswerChecker to a Client.
type answering struct{ *Client }

// Answered implements dispatch.AnswerChecker: whether anyone of res's
// campaigns was bridged into the extension (answered), by whom, and
// whether every campaign is over.
func (a answering) Answered(ctx context.Context, res dispatch.Result) (bool, string, bool, error) {
	return a.answered(ctx, res)
}

// acknowledging adds dispatch.Acknowledger to a Client.
type acknowledging struct{ *Client }

// Replies implements dispatch.Acknowledger with the incoming text messages
// (GetSmsIncomingLog); see Client.replies.
func (a acknowledging) Replies(ctx context.Context, interval time.Duration, handle func(context.Context, dispatch.Reply) error) error {
	return a.replies(ctx, interval, handle)
}

// answeringAcknowledging is both.
type answeringAcknowledging struct{ *Client }

// Answered implements dispatch.AnswerChecker, as answering's.
func (a answeringAcknowledging) Answered(ctx context.Context, res dispatch.Result) (bool, string, bool, error) {
	return a.answered(ctx, res)
}

// Replies implements dispatch.Acknowledger, as acknowledging's.
func (a answeringAcknowledging) Replies(ctx context.Context, interval time.Duration, handle func(context.Context, dispatch.Reply) error) error {
	return a.replies(ctx, interval, handle)
}

var (
	_ dispatch.AttemptTimer  = (*Client)(nil)
	_ dispatch.AnswerChecker = answering{}
	_ dispatch.Acknowledger  = acknowledging{}
	_ dispatch.AnswerChecker = answeringAcknowledging{}
	_ dispatch.Acknowledger  = answeringAcknowledging{}
)
