package ccai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/escalator-oss/escalator/internal/dispatch"
)

// The call types the client creates.
const (
	outbound = "Voice Outbound (API)"
	inbound  = "Voice Inbound (API)"
)

// msgUnavailable is the documented 400 of an agent who is on another call
// (or otherwise not available).
const msgUnavailable = "Agent is not available to take this call"

// callsPath is the Apps API's call creation endpoint.
const callsPath = "/apps/api/v1/calls"

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
	agent   string // the agent who took it; empty when queued into a menu
	pending bool
	note    string
}

// create posts one call and reads the answer. Only the documented answers
// count: 201 with the call object, which has its id; 202, "the agent must act
// in their widget first" (pending, no call yet). Any other 2xx, or a 201
// that is not a call object with an id, is a permanent error naming the
// status: the call may or may not exist, so it is not tried again (a
// second call to the person is worse than the next provider's).
func (c *Client) create(ctx context.Context, body callBody) (placed, error) {
	status, raw, err := c.do(ctx, http.MethodPost, callsPath, body)
	if err != nil {
		return placed{}, err
	}
	switch status {
	case http.StatusCreated:
		var out struct {
			ID     json.RawMessage `json:"id"`
			Status string          `json:"status"`
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			return placed{}, c.unexpected(status, raw, "not the documented call object")
		}
		id := callID(out.ID)
		if id == "" {
			return placed{}, c.unexpected(status, raw, "a call object without an id")
		}
		note := "call " + id
		if out.Status != "" {
			note += " " + out.Status
		}
		return placed{id: id, note: note}, nil
	case http.StatusAccepted:
		// The manual documents the 202 but not its body: whatever it is, the
		// agent must act in their widget before the call exists, and there
		// is no call id to follow.
		return placed{pending: true, note: "accepted (202): the agent must act in their widget first"}, nil
	}
	return placed{}, c.unexpected(status, raw, "not a documented status (201: call created; 202: the agent must act in their widget)")
}

// unexpected is the error for a 2xx answer that is not a documented one.
func (c *Client) unexpected(status int, raw []byte, what string) error {
	return fmt.Errorf("ccai answered %d %s: %s: %s", status, http.StatusText(status), what, c.redact(dispatch.Excerpt(raw)))
}

// callID reads a call object's id: a JSON number (as documented) or a
// non-empty string; anything else is no id.
func callID(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil && n != "" {
		return n.String()
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return strings.TrimSpace(s)
	}
	return ""
}

// The kinds of refusal of a call request.
const (
	byRequest = iota // the whole request failed: auth, subdomain, 5xx, a bad answer ...
	byAgent          // this agent cannot take the call: the next one may
	byNumber         // the person's number or contact: no agent can do better
)

// refusal classifies err from an outbound call request, with the
// platform's message for a 400. The documented 400s are about the agent
// (not available, not a valid agent email, no access to make calls, agent
// email required), the number (ticket_id or end_user_number required,
// end_user_number is not well-formed, contact not found) or the call type.
// A 400 the manual does not list is taken as the agent's: the next agent
// and the menu are tried, which a missed page would not forgive.
func refusal(err error) (int, string) {
	var ae *APIError
	if !errors.As(err, &ae) {
		return byRequest, ""
	}
	m := strings.ToLower(ae.Message)
	if strings.Contains(m, "end_user_number") || strings.Contains(m, "contact not found") {
		return byNumber, ae.Message
	}
	return byAgent, ae.Message
}

// unavailable reports whether msg is the platform's "not available": the
// agent is on another call.
func unavailable(msg string) bool { return msg == msgUnavailable }
