package ccai

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/phone"
	"github.com/escalator-oss/escalator/internal/provider"
)

// How often a rotation reads the Manager API's call list while a turn lasts
// (doubling from the first to the most), and retries a busy agent of its own.
const (
	pollFirst  = 2 * time.Second
	pollMost   = 10 * time.Second
	retryFirst = time.Second
	retryMost  = 8 * time.Second
)

// rotation is one rotation's course: the calls it placed that may still
// be ringing, and the last one, whose end starts the next person's turn.
type rotation struct {
	c      *Client
	req    dispatch.Request
	v      Settings
	agents *agents
	open   map[string]provider.Person // call id → person, until seen over
	order  []string                   // open's ids in the order placed
	last   turn
	placed bool   // a call was placed: the next person waits for its turn
	failed string // the last error reading the call list, logged once
}

// turn is the last person's call.
type turn struct {
	person provider.Person
	id     string // "" for a 202 (no call to follow)
	at     time.Time
	over   bool // ended unanswered
}

// stopped is why a rotation stopped before calling everyone.
type stopped struct {
	why    string
	called bool // false: the rest are NotCalled; true: Failed (cut short)
}

func (s *stopped) Error() string { return s.why }

// rotate calls req.People one at a time, in order. After placing a call it
// waits for it to end, reading the Manager API's call list: connected or
// finished means answered, and the rotation stops, the rest NotCalled;
// failed (with its fail_reason) means not, and the next person is called.
// A turn lasts at most the step's ring; the escalation being acknowledged
// or resolved (req.Stopped) stops it too. An agent still busy with the
// rotation's own earlier call is waited for (retried with backoff on the
// client's clock, for at most one ring) before the menu is tried. A 202
// (pending: the agent must act in their widget) has no call id to follow,
// so its turn lasts the whole ring. The last person's call is not waited
// for: the worker's answered detection follows it.
func (c *Client) rotate(ctx context.Context, req dispatch.Request, v Settings) (dispatch.Result, error) {
	res := dispatch.Result{Provider: Name}
	r := &rotation{c: c, req: req, v: v, agents: newAgents(v), open: map[string]provider.Person{}}
	for i, p := range req.People {
		if r.placed {
			if st := r.await(ctx); st != nil {
				r.stop(&res, req.People[i:], st)
				break
			}
		}
		num, err := phone.CCAI(p.Phone)
		if err != nil {
			res.Failed = append(res.Failed, provider.Unreached{Person: p, Reason: err.Error()})
			continue
		}
		got, why, err := c.place(ctx, num, v, r.agents, r.waitAgent)
		var st *stopped
		switch {
		case errors.As(err, &st):
			r.stop(&res, req.People[i:], st)
		case err != nil && len(res.Reached) == 0:
			return res, fmt.Errorf("call through ccai: %w", err)
		case err != nil:
			// Calls are placed: report the rest rather than have the
			// whole rotation retried and its first people called twice.
			r.stop(&res, req.People[i:], &stopped{why: err.Error(), called: true})
		case why != "":
			res.Failed = append(res.Failed, provider.Unreached{Person: p, Reason: why})
			res.Detail = joinDetail(res.Detail, p.Name+": not called: "+why)
			continue
		default:
			c.reached(&res, p, got)
			r.agents.take(got.agent, p.Name)
			r.last, r.placed = turn{person: p, id: got.id, at: c.cfg.Clock.Now()}, true
			if got.id != "" {
				r.open[got.id] = p
				r.order = append(r.order, got.id)
			}
			continue
		}
		break // the rotation stopped
	}
	return res, nil
}

// stop reports the people the rotation did not get to.
func (r *rotation) stop(res *dispatch.Result, rest []provider.Person, st *stopped) {
	for _, p := range rest {
		u := provider.Unreached{Person: p, Reason: st.why}
		if st.called {
			res.Failed = append(res.Failed, u)
		} else {
			res.NotCalled = append(res.NotCalled, u)
		}
	}
	res.Detail = joinDetail(res.Detail, st.why)
}

// await waits for the last call's turn to end: the call ended unanswered,
// or the ring time is over. It returns why the rotation stops instead, if
// it does.
func (r *rotation) await(ctx context.Context) *stopped {
	clk := r.c.cfg.Clock
	deadline := r.last.at.Add(r.v.ring())
	wait := pollFirst
	for {
		if r.last.over {
			return nil
		}
		now := clk.Now()
		if !now.Before(deadline) {
			r.c.log.Info("turn over: calling the next person", zap.String("after", r.last.person.Name),
				zap.Duration("ring", r.v.ring()))
			return nil
		}
		select {
		case <-clk.After(min(wait, deadline.Sub(now))):
		case <-ctx.Done():
			return cut(ctx)
		}
		wait = min(2*wait, pollMost)
		if st := r.check(ctx); st != nil {
			return st
		}
	}
}

// waitAgent waits for one of busy, the agents on the rotation's own earlier
// calls, to take the person's call, for at most one ring, retrying with
// backoff on the client's clock; meanwhile an answered call or the
// escalation's end stops the rotation.
func (r *rotation) waitAgent(ctx context.Context, num string, busy []string) (placed, string, error) {
	clk := r.c.cfg.Clock
	deadline := clk.Now().Add(r.v.ring())
	wait := retryFirst
	var refused []string
	for {
		now := clk.Now()
		if !now.Before(deadline) {
			for _, agent := range busy {
				refused = append(refused, fmt.Sprintf("%s: still on this rotation's call to %s after %s",
					agent, r.agents.on[agent], compact(r.v.ring())))
			}
			return placed{}, strings.Join(refused, "; "), nil
		}
		select {
		case <-clk.After(min(wait, deadline.Sub(now))):
		case <-ctx.Done():
			return placed{}, "", cut(ctx)
		}
		wait = min(2*wait, retryMost)
		if st := r.check(ctx); st != nil {
			return placed{}, "", st
		}
		still := busy[:0]
		for _, agent := range busy {
			got, err := r.c.outbound(ctx, agent, num, r.v)
			if err == nil {
				return got, "", nil
			}
			switch kind, msg := refusal(err); {
			case kind == byAgent && unavailable(msg):
				still = append(still, agent)
			case kind == byAgent:
				r.agents.refused[agent] = msg
				refused = append(refused, agent+": "+msg)
			case kind == byNumber:
				return placed{}, "", &numberRefused{msg}
			default:
				return placed{}, "", err
			}
		}
		if busy = still; len(busy) == 0 {
			return placed{}, strings.Join(refused, "; "), nil
		}
	}
}

// numberRefused is the platform refusing the person's number or contact
// while the rotation waited for an agent.
type numberRefused struct{ msg string }

func (e *numberRefused) Error() string { return e.msg }

// check reads the status of the rotation's calls still open: one
// answered (connected or finished) stops the rotation; a failed one is
// over. It also stops the rotation when the escalation was acknowledged or
// resolved. A call list that cannot be read is logged and changes nothing:
// the turn then ends with its ring time.
func (r *rotation) check(ctx context.Context) *stopped {
	if r.req.Stopped != nil && r.req.Stopped() {
		return &stopped{why: "the rotation stopped: the escalation was acknowledged or resolved"}
	}
	if len(r.order) == 0 {
		return nil
	}
	st, err := r.c.CallStatuses(ctx, r.order)
	if err != nil {
		if ctx.Err() != nil {
			return cut(ctx)
		}
		if msg := err.Error(); msg != r.failed {
			r.failed = msg
			r.c.log.Warn("cannot read the call list; the turn ends with its ring time", zap.String("error", msg))
		}
		return nil
	}
	kept := r.order[:0]
	var answered string
	for _, id := range r.order {
		s, ok := st[id]
		switch {
		case ok && isAnswered(s.Status) && answered == "":
			answered = r.open[id].Name
		case ok && s.Status == "failed":
			if id == r.last.id {
				r.last.over = true
			}
			delete(r.open, id)
			continue
		}
		kept = append(kept, id)
	}
	r.order = kept
	if answered != "" {
		return &stopped{why: "the rotation stopped: " + answered + " answered"}
	}
	return nil
}

// cut is why a rotation ends when its context does (the dispatcher's
// attempt timeout, or the worker stopping): the people not called yet are
// Failed, for the next provider.
func cut(ctx context.Context) *stopped {
	return &stopped{why: "the rotation was cut short: " + ctx.Err().Error(), called: true}
}

// AttemptTimeout implements dispatch.AttemptTimer: a rotation's one Call
// lasts for its people's turns. Each person after the first may wait up to
// one ring for the previous call to end, and up to one more for the agent
// to be free again, besides the requests (base).
func (c *Client) AttemptTimeout(base time.Duration, req dispatch.Request) time.Duration {
	if req.Strategy != provider.Rotation || len(req.People) < 2 {
		return base
	}
	ring := DefaultRing
	if v, err := provider.As[Settings](req.Via); err == nil {
		ring = v.ring()
	}
	return base + time.Duration(len(req.People)-1)*(2*ring+base)
}
