package ccai

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/phone"
	"github.com/escalator-oss/escalator/internal/provider"
)

// Call places req's calls (see the package comment for how each strategy
// is carried out) and reports each person of req: Reached (a call was
// created, or accepted pending the agent's widget), Failed (no agent nor
// the menu took it, or the number was refused; the next provider tries
// them) or NotCalled (a rotation that stopped, or a single step's extra
// people). stop_on_answer and pass_on are refused: CCAI Platform documents
// no way to end a call or to pass one on (policy check refuses them too).
func (c *Client) Call(ctx context.Context, req dispatch.Request) (dispatch.Result, error) {
	res := dispatch.Result{Provider: Name}
	v, err := provider.As[Settings](req.Via)
	if err != nil {
		return res, errors.New("call through ccai: the step has no ccai settings")
	}
	if len(v.Agents) == 0 && v.MenuID == 0 {
		return res, errors.New("call through ccai: the step names no agent and no menu_id")
	}
	if err := c.cannot(req); err != nil {
		return res, err
	}
	switch req.Strategy {
	case provider.Single:
		one := req.People[:min(1, len(req.People))]
		res, err = c.together(ctx, one, v)
		for _, p := range req.People[len(one):] {
			res.NotCalled = append(res.NotCalled, provider.Unreached{Person: p, Reason: "a single step calls one person"})
		}
	case provider.Broadcast:
		res, err = c.together(ctx, req.People, v)
	case provider.Rotation:
		res, err = c.rotate(ctx, req, v)
	default:
		return res, fmt.Errorf("call through ccai: unknown strategy %q", req.Strategy)
	}
	if err != nil {
		return res, err
	}
	if len(res.Reached) == 0 && len(res.NotCalled) == 0 && len(res.Failed) > 0 {
		reasons := make([]string, len(res.Failed))
		for i, f := range res.Failed {
			reasons[i] = f.Person.Name + ": " + f.Reason
		}
		return res, fmt.Errorf("call through ccai: nobody was called: %s", strings.Join(reasons, "; "))
	}
	return res, nil
}

// cannot refuses, before calling anyone, a request whose promise CCAI
// Platform cannot keep. policy check refuses such steps; this is for a
// request that reaches the client anyway (an escalation that started under
// an older policy or another worker's configuration): a permanent error, so
// that the next provider of the chain takes the step.
func (c *Client) cannot(req dispatch.Request) error {
	switch {
	case req.StopOnAnswer:
		return errors.New("call through ccai: cannot stop the other calls when one is answered (stop_on_answer): CCAI Platform's API has no way to end a call")
	case req.PassOn:
		return errors.New("call through ccai: cannot let the person who answers pass the call on (pass_on): CCAI Platform's API has no such option")
	case req.Strategy == provider.Rotation && len(req.People) > 1 && !c.cfg.CheckAnswered:
		return errors.New("call through ccai: a rotation needs answered detection (CCAI_CHECK_ANSWERED=true) to know when each call has ended and to stop when someone answers")
	}
	return nil
}

// together calls people at once (single, broadcast): each gets the next
// agent of the list that is not already on one of these calls and has not
// refused one, then the menu.
func (c *Client) together(ctx context.Context, people []provider.Person, v Settings) (dispatch.Result, error) {
	res := dispatch.Result{Provider: Name}
	a := newAgents(v)
	for i, p := range people {
		num, err := phone.CCAI(p.Phone)
		if err != nil {
			res.Failed = append(res.Failed, provider.Unreached{Person: p, Reason: err.Error()})
			continue
		}
		got, why, err := c.place(ctx, num, v, a, nil)
		if err != nil {
			if len(res.Reached) == 0 {
				return res, fmt.Errorf("call through ccai: %w", err)
			}
			// Some calls are placed: report the rest rather than have the
			// whole request retried and the others called twice.
			for _, q := range people[i:] {
				res.Failed = append(res.Failed, provider.Unreached{Person: q, Reason: err.Error()})
			}
			break
		}
		if why != "" {
			res.Failed = append(res.Failed, provider.Unreached{Person: p, Reason: why})
			res.Detail = joinDetail(res.Detail, p.Name+": not called: "+why)
			continue
		}
		c.reached(&res, p, got)
		a.take(got.agent, p.Name)
	}
	return res, nil
}

// reached adds p's call to res.
func (c *Client) reached(res *dispatch.Result, p provider.Person, got placed) {
	res.Reached = append(res.Reached, p)
	res.Pending = res.Pending || got.pending
	res.Detail = joinDetail(res.Detail, p.Name+": "+got.note)
	if got.id != "" {
		res.References = append(res.References, got.id)
		c.remember(got.id, p.Name)
	}
}

// agents is one request's view of the step's agents: who is on one of its
// calls, and who refused, with the platform's message.
type agents struct {
	list    []string
	on      map[string]string // agent → the person whose call they took
	refused map[string]string // agent → the refusal
}

func newAgents(v Settings) *agents {
	return &agents{list: v.Agents, on: map[string]string{}, refused: map[string]string{}}
}

func (a *agents) take(agent, person string) {
	if agent != "" {
		a.on[agent] = person
	}
}

// place has one person called: by the first agent of the list that takes
// the call, then by the step's menu. In a broadcast (wait nil) an agent on
// one of the request's calls, or who refused once, is not asked again. In a
// rotation (wait set) every agent is asked again, and when the agents on
// the rotation's earlier calls are still busy, wait waits for one of them
// before the menu is tried. It returns the call; or why nobody could call
// the person (a Failed reason: every agent's and the menu's answer); or an
// error about the whole request (auth, subdomain, 5xx, a bad answer ...).
func (c *Client) place(ctx context.Context, num string, v Settings, a *agents, wait waitFunc) (placed, string, error) {
	var reasons, busy []string
	for _, agent := range a.list {
		if who, ok := a.on[agent]; ok && wait == nil {
			reasons = append(reasons, agent+": on this step's call to "+who)
			continue
		}
		if why, ok := a.refused[agent]; ok && (wait == nil || !unavailable(why)) {
			reasons = append(reasons, agent+": "+why)
			continue
		}
		got, err := c.outbound(ctx, agent, num, v)
		if err == nil {
			return got, "", nil
		}
		switch kind, msg := refusal(err); kind {
		case byAgent:
			c.log.Info("agent did not take the call", zap.String("agent", agent), zap.String("reason", msg))
			if _, ours := a.on[agent]; ours && wait != nil && unavailable(msg) {
				busy = append(busy, agent) // wait says why, if it must
				continue
			}
			a.refused[agent] = msg
			reasons = append(reasons, agent+": "+msg)
		case byNumber:
			return placed{}, msg, nil
		default:
			return placed{}, "", err
		}
	}
	if len(busy) > 0 {
		got, why, err := wait(ctx, num, busy)
		var nr *numberRefused
		switch {
		case errors.As(err, &nr):
			return placed{}, nr.msg, nil
		case err != nil || why == "":
			return got, "", err
		}
		reasons = append(reasons, why)
	}
	return c.queue(ctx, num, v, reasons)
}

// waitFunc waits for one of the busy agents to take the person's call: it
// returns the call, or why none did in time, or an error about the whole
// request (a *stopped: the rotation stopped meanwhile).
type waitFunc func(ctx context.Context, num string, busy []string) (placed, string, error)

// queue queues the person's call into the step's menu, if it has one.
func (c *Client) queue(ctx context.Context, num string, v Settings, reasons []string) (placed, string, error) {
	tried := strings.Join(reasons, "; ")
	if v.MenuID == 0 {
		if tried == "" {
			return placed{}, "no agent took the call and the step has no menu_id", nil
		}
		return placed{}, "no agent took the call (" + tried + ") and the step has no menu_id", nil
	}
	got, err := c.create(ctx, callBody{CallType: inbound, MenuID: v.MenuID, EndUserNumber: num,
		OutboundNumber: v.OutboundNumber, Lang: v.Lang})
	if err == nil {
		got.note = fmt.Sprintf("queued in menu %d, %s", v.MenuID, got.note)
		if tried != "" {
			got.note += " (" + tried + ")"
		}
		return got, "", nil
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return placed{}, "", err
	}
	why := fmt.Sprintf("menu %d: %s", v.MenuID, ae.Message)
	if tried != "" {
		why = "no agent took the call (" + tried + ") and " + why
	}
	return placed{}, why, nil
}

// outbound asks agent to call num.
func (c *Client) outbound(ctx context.Context, agent, num string, v Settings) (placed, error) {
	got, err := c.create(ctx, callBody{CallType: outbound, AgentEmail: agent, EndUserNumber: num,
		OutboundNumber: v.OutboundNumber, Lang: v.Lang})
	if err == nil {
		got.agent = agent
		got.note = "agent " + agent + ", " + got.note
	}
	return got, err
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
