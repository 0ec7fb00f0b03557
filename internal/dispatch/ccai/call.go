package ccai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/phone"
	"github.com/escalator-oss/escalator/internal/provider"
)

// The call types the client creates.
const (
	outbound = "Voice Outbound (API)"
	inbound  = "Voice Inbound (API)"
)

// msgUnavailable is the 400 message after which the next agent is tried.
const msgUnavailable = "Agent is not available to take this call"

// callsPath is the Apps API's call creation endpoint.
const callsPath = "/apps/api/v1/calls"

// ErrNoAgentAvailable means every agent of the step was unavailable and the
// step has no menu to queue the call into.
var ErrNoAgentAvailable = errors.New("no agent of the step is available and the step has no menu_id")

// callBody is POST /apps/api/v1/calls's JSON body; empty optional fields are
// left out.
type callBody struct {
	CallType       string `json:"call_type"`
	AgentEmail     string `json:"agent_email,omitempty"`
	MenuID         int    `json:"menu_id,omitempty"`
	EndUserNumber  string `json:"end_user_number"`
	OutboundNumber string `json:"outbound_number,omitempty"`
	Lang           string `json:"lang,omitempty"`
}

// placed is one person's accepted call.
type placed struct {
	id      string // empty when the platform gave none (202)
	pending bool
	note    string
}

// Call places req's calls. Each person is called by the step's agents, tried
// in order: an unavailable agent passes to the next, and when none is
// available the call is queued into the step's menu_id, if any. Single calls
// the first person; broadcast calls everyone, one request after another;
// rotation does the same in order, checking req.Stopped between people (a
// CCAI agent calls one person at a time, and the platform has no ring time to
// wait on, so a rotation is the people's order and the early stop). A 202,
// or a 2xx without a call id, means the agent must act in their widget first:
// Result.Pending.
func (c *Client) Call(ctx context.Context, req dispatch.Request) (dispatch.Result, error) {
	res := dispatch.Result{Provider: Name}
	v, err := provider.As[Settings](req.Via)
	if err != nil {
		return res, errors.New("call through ccai: the step has no ccai settings")
	}
	if len(v.Agents) == 0 && v.MenuID == 0 {
		return res, errors.New("call through ccai: the step names no agent and no menu_id")
	}
	people := req.People
	switch req.Strategy {
	case provider.Single:
		people = people[:min(1, len(people))]
	case provider.Broadcast, provider.Rotation:
	default:
		return res, fmt.Errorf("call through ccai: unknown strategy %q", req.Strategy)
	}
	for i, p := range people {
		if req.Strategy == provider.Rotation && i > 0 && req.Stopped != nil && req.Stopped() {
			res.Detail = joinDetail(res.Detail, fmt.Sprintf("rotation stopped after %d of %d: escalation stopped", i, len(people)))
			break
		}
		num, err := phone.CCAI(p.Phone)
		if err != nil {
			res.Failed = append(res.Failed, provider.Unreached{Person: p, Reason: err.Error()})
			continue
		}
		got, err := c.callPerson(ctx, num, v)
		if err != nil {
			if personal(err) {
				res.Failed = append(res.Failed, provider.Unreached{Person: p, Reason: err.Error()})
				continue
			}
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
		res.Reached = append(res.Reached, p)
		res.Pending = res.Pending || got.pending
		res.Detail = joinDetail(res.Detail, p.Name+": "+got.note)
		if got.id != "" {
			res.References = append(res.References, got.id)
			c.remember(got.id, p.Name)
		}
	}
	if len(res.Reached) == 0 && len(res.Failed) > 0 {
		reasons := make([]string, len(res.Failed))
		for i, f := range res.Failed {
			reasons[i] = f.Person.Name + ": " + f.Reason
		}
		return res, fmt.Errorf("call through ccai: nobody was called: %s", strings.Join(reasons, "; "))
	}
	return res, nil
}

// callPerson tries the agents in order, then the menu.
func (c *Client) callPerson(ctx context.Context, num string, v Settings) (placed, error) {
	for _, agent := range v.Agents {
		got, err := c.create(ctx, callBody{CallType: outbound, AgentEmail: agent, EndUserNumber: num,
			OutboundNumber: v.OutboundNumber, Lang: v.Lang})
		var ae *APIError
		if errors.As(err, &ae) && ae.Message == msgUnavailable {
			c.log.Info("agent unavailable; trying the next", zap.String("agent", agent))
			continue
		}
		if err == nil {
			got.note = "agent " + agent + " " + got.note
		}
		return got, err
	}
	if v.MenuID == 0 {
		return placed{}, ErrNoAgentAvailable
	}
	got, err := c.create(ctx, callBody{CallType: inbound, MenuID: v.MenuID, EndUserNumber: num,
		OutboundNumber: v.OutboundNumber, Lang: v.Lang})
	if err == nil {
		got.note = fmt.Sprintf("queued in menu %d, %s", v.MenuID, got.note)
	}
	return got, err
}

// create posts one call and reads the answer.
func (c *Client) create(ctx context.Context, body callBody) (placed, error) {
	status, raw, err := c.do(ctx, http.MethodPost, callsPath, body)
	if err != nil {
		return placed{}, err
	}
	var out struct {
		ID     json.RawMessage `json:"id"`
		Status string          `json:"status"`
	}
	_ = json.Unmarshal(raw, &out) // 2xx is accepted whatever the body says
	id := string(bytes.Trim(bytes.TrimSpace(out.ID), `"`))
	if id == "null" {
		id = ""
	}
	if status == http.StatusAccepted || id == "" {
		return placed{id: id, pending: true, note: fmt.Sprintf("accepted (%d): the agent must act in their widget", status)}, nil
	}
	return placed{id: id, note: fmt.Sprintf("call %s %s", id, out.Status)}, nil
}

// personal reports whether err concerns one person only, so the others are
// still called.
func personal(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return strings.Contains(ae.Message, "end_user_number") || ae.Message == "Contact not found"
	}
	return errors.Is(err, ErrNoAgentAvailable)
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
