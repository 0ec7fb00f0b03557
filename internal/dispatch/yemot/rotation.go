package yemot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/provider"
)

// A rotation's pacing.
const (
	// pollEvery is how often a rotation asks GetCampaignStatus whether the
	// current call has ended, and checks whether the escalation stopped.
	pollEvery = 2 * time.Second
	// statusLag is how long past a call's ring time a rotation keeps asking
	// whether it ended, before it calls the next person anyway: Yemot's
	// status may trail the call (how much is not documented), and a call
	// answered at the last ring should still stop the rotation.
	statusLag = 5 * time.Second
)

// The reasons the rest of a rotation is not called (Result.NotCalled).
const (
	whyAcknowledged = "the escalation was acknowledged"
	whyAnswered     = "the rotation stopped: %s answered"
)

// rotate calls targets one at a time, in order, each in a campaign of
// their own (with their tzintuk right before it), and calls the next only
// once the previous call has ended unanswered (GetCampaignStatus: the entry
// no_answer, failed, busy, or done without bridged; or the campaign over)
// or its ring time is over. When someone answers (bridged), the rotation
// stops and the rest are NotCalled. That needs answered detection
// (Config.CheckAnswered; policy check refuses a Yemot rotation without
// it); without it, the next person is called when the ring time is over,
// whether or not the previous one answered. Between people, and while it
// waits, it checks req.Stopped: an acknowledged escalation stops the
// rotation, the rest NotCalled. The last person's call is not waited for.
func (c *Client) rotate(ctx context.Context, req dispatch.Request, v Settings, targets []target, secs int, res dispatch.Result) (dispatch.Result, error) {
	ring := ringOf(v)
	for i, t := range targets {
		if i > 0 && stopped(req) {
			return c.stopRotation(req, res, i, targets, whyAcknowledged)
		}
		if v.Tzintuk {
			c.tzintuk(ctx, []target{t}, v.CallerID)
		}
		before := len(res.Reached)
		id, err := c.campaign(ctx, []target{t}, v, secs, &res)
		if err != nil {
			if len(res.Reached) == 0 {
				return res, err // nobody called yet: trying the whole rotation again is safe
			}
			res.Failed = append(res.Failed, failures(t, err.Error())...)
			continue
		}
		if len(res.Reached) == before || i == len(targets)-1 {
			continue // Yemot did not dial the number, or nobody is left to call
		}
		switch c.awaitCall(ctx, req, id, ring) {
		case callAnswered:
			return c.stopRotation(req, res, i+1, targets, fmt.Sprintf(whyAnswered, t.names()))
		case escalationStopped:
			return c.stopRotation(req, res, i+1, targets, whyAcknowledged)
		case interrupted:
			for _, rest := range targets[i+1:] {
				res.Failed = append(res.Failed, failures(rest, "rotation interrupted: "+ctx.Err().Error())...)
			}
			return finish(res)
		}
	}
	return finish(res)
}

// stopRotation reports targets[from:] as not called, for why.
func (c *Client) stopRotation(req dispatch.Request, res dispatch.Result, from int, targets []target, why string) (dispatch.Result, error) {
	for _, t := range targets[from:] {
		for _, p := range t.people {
			res.NotCalled = append(res.NotCalled, provider.Unreached{Person: p, Reason: why})
		}
	}
	res.Detail = joinDetail(res.Detail, fmt.Sprintf("rotation stopped after %d of %d: %s", from, len(targets), why))
	c.log.Info("rotation stopped", zap.String("escalation", req.EscalationID), zap.Int("called", from),
		zap.Int("people", len(targets)), zap.String("why", why))
	return finish(res)
}

// callEnd is how waiting for one call of a rotation ended.
type callEnd int

const (
	callOver          callEnd = iota // ended unanswered, or its ring time is over
	callAnswered                     // bridged
	escalationStopped                // req.Stopped
	interrupted                      // ctx ended
)

// awaitCall waits for the call of campaign id (one number) to end: until
// GetCampaignStatus says it ended (with answered detection), the ring time
// (and the status's lag) is over, the escalation stops, or ctx ends. A
// status that cannot be read is logged, and the wait goes on: the next
// person is called when the ring time is over, since a missed page is
// worse than a second call.
func (c *Client) awaitCall(ctx context.Context, req dispatch.Request, id string, ring time.Duration) callEnd {
	detect := c.cfg.CheckAnswered && id != ""
	limit := ring
	if detect {
		limit += statusLag
	}
	deadline := c.cfg.Clock.Now().Add(limit)
	lastErr := ""
	for {
		left := deadline.Sub(c.cfg.Clock.Now())
		if left <= 0 {
			return callOver
		}
		select {
		case <-ctx.Done():
			return interrupted
		case <-c.cfg.Clock.After(min(pollEvery, left)):
		}
		if stopped(req) {
			return escalationStopped
		}
		if !detect {
			continue
		}
		st, err := c.CampaignStatus(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return interrupted
			}
			if msg := err.Error(); msg != lastErr {
				lastErr = msg
				c.log.Warn("rotation: cannot read the call's status; waiting for its ring time",
					zap.String("campaign", id), zap.Error(err))
			}
			continue
		}
		switch answered, ended := st.callEnded(); {
		case answered:
			return callAnswered
		case ended:
			return callOver
		}
	}
}

// callEnded reads a rotation's campaign (one number): whether its call was
// answered, and whether it has ended. An entry of a status the call manual
// does not document (it documents none), or a campaign still RUNNING with
// no entry, is taken as ringing.
func (s CampaignStatus) callEnded() (answered, ended bool) {
	ended = len(s.Entries) > 0
	for _, e := range s.Entries {
		switch strings.ToLower(strings.TrimSpace(e.Status)) {
		case "bridged":
			return true, true
		case "done", "no_answer", "failed", "busy":
		default:
			ended = false
		}
	}
	return false, ended || s.Over()
}

func stopped(req dispatch.Request) bool { return req.Stopped != nil && req.Stopped() }

func ringOf(v Settings) time.Duration {
	if v.Ring > 0 {
		return v.Ring
	}
	return defaultRing
}

// AttemptTimeout implements dispatch.AttemptTimer: a rotation's one Call
// waits for each call but the last to end, up to its ring time and the
// status's lag, and sends each person's requests (tzintuk, campaign,
// statuses): base for each person's requests, plus the waits. Cutting it at
// base would stop it half-way.
func (c *Client) AttemptTimeout(base time.Duration, req dispatch.Request) time.Duration {
	if req.Strategy != provider.Rotation || len(req.People) < 2 {
		return base
	}
	ring := defaultRing
	if v, err := provider.As[Settings](req.Via); err == nil {
		ring = ringOf(v)
	}
	n := time.Duration(len(req.People))
	return n*base + (n-1)*(ring+statusLag)
}
