// Package outcome is the outcome event that escalator publishes on
// escalations.<escalation-id>.<event> for other programs to follow: its JSON
// and its event names. The names and fields are stable; new ones may be
// added, none renamed.
package outcome

import (
	"time"

	"github.com/escalator-oss/escalator/internal/provider"
)

// Event names, the last token of an outcome's subject.
const (
	Started        = "started"
	Dispatched     = "dispatched"
	DispatchFailed = "dispatch_failed"
	Fallback       = "fallback"
	Answered       = "answered"
	Acknowledged   = "acknowledged"
	Resolved       = "resolved"
	Exhausted      = "exhausted"
	Unmatched      = "unmatched"
	Grouped        = "grouped"
	Skipped        = "skipped"
	Refused        = "refused"
	// Unacknowledged: an acknowledged escalation whose alerts still fire
	// after its policy's ack_timeout starts again from step 1.
	Unacknowledged = "unacknowledged"
	// Silenced: a silence or a maintenance window keeps the escalation
	// quiet (Silence, Until).
	Silenced = "silenced"
	// Escalated: someone escalated by hand (By, Via, Comment): the next
	// step runs now.
	Escalated = "escalated"
)

// Outcome is the JSON of one outcome event; other services rely on it.
type Outcome struct {
	EscalationID string `json:"escalation_id"`
	// ShortCode is the escalation's four-digit code, which a person may
	// name in a reply ("ack 4821").
	ShortCode string            `json:"short_code,omitempty"`
	AlertID   string            `json:"alert_id"`
	Policy    string            `json:"policy,omitempty"`
	Event     string            `json:"event"`
	Step      int               `json:"step"`
	Loop      int               `json:"loop"`
	At        time.Time         `json:"at"`
	Provider  string            `json:"provider,omitempty"`
	People    []provider.Person `json:"people,omitempty"`
	// NotCalled are people the step meant to call and the provider did
	// not, on purpose, with why (dispatched: a rotation that stopped).
	NotCalled  []provider.Unreached `json:"not_called,omitempty"`
	Reference  string               `json:"reference,omitempty"`
	References []string             `json:"references,omitempty"`
	Attempt    int                  `json:"attempt,omitempty"`
	Error      string               `json:"error,omitempty"`
	Next       string               `json:"next,omitempty"`
	By         string               `json:"by,omitempty"`
	// Via says how an acknowledgement or a resolution came: "alert" (an
	// alert event), "answer" (a provider reported the call answered), "sms"
	// (a text message back), "api".
	Via     string `json:"via,omitempty"`
	Alerts  int    `json:"alerts,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Pending bool   `json:"pending,omitempty"`
	InDoubt bool   `json:"in_doubt,omitempty"`
	Summary string `json:"summary,omitempty"`
	// Silence is the silence's id (silenced, by a silence); Until when the
	// quiet ends (silenced).
	Silence string    `json:"silence,omitempty"`
	Until   time.Time `json:"until,omitzero"`
	// Comment is what the person who acted said (acknowledged, resolved,
	// escalated, through the API).
	Comment string `json:"comment,omitempty"`
}
