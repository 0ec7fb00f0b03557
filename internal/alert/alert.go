// Package alert is the alert event that flows into escalator: its JSON schema,
// decoding with validation, and the fingerprint that names an alert without an
// id. It knows nothing of NATS or HTTP.
package alert

import (
	"bytes"
	"encoding/json"
	"time"
)

// Status is an alert event's status.
type Status string

// The statuses an event may carry.
const (
	Firing       Status = "firing"
	Resolved     Status = "resolved"
	Acknowledged Status = "acknowledged"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	return s == Firing || s == Resolved || s == Acknowledged
}

// Event is one alert event, as published to alerts.<source>.
//
// Only Status and either ID or Labels are required. Fields this version does
// not know are kept in Extra and written back out by MarshalJSON, so nothing a
// sender adds is lost on the way through.
type Event struct {
	// ID names the alert. When the sender gives none, Decode sets it to the
	// fingerprint of Labels (the same as Alertmanager's).
	ID          string            `json:"id,omitempty"`
	Status      Status            `json:"status"`
	Summary     string            `json:"summary,omitempty"`
	Severity    string            `json:"severity,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Source      string            `json:"source,omitempty"`
	// At is when the event happened, as the sender says (RFC 3339).
	At time.Time `json:"at,omitempty"`
	// By is who acknowledged (for acknowledged events).
	By string `json:"by,omitempty"`

	// Extra holds the fields of the JSON object that Event does not define.
	Extra map[string]json.RawMessage `json:"-"`
}

// knownFields are the JSON keys Event defines.
var knownFields = map[string]bool{
	"id": true, "status": true, "summary": true, "severity": true, "labels": true,
	"annotations": true, "source": true, "at": true, "by": true,
}

type plainEvent struct {
	ID          string            `json:"id,omitempty"`
	Status      Status            `json:"status"`
	Summary     string            `json:"summary,omitempty"`
	Severity    string            `json:"severity,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Source      string            `json:"source,omitempty"`
	At          *time.Time        `json:"at,omitempty"`
	By          string            `json:"by,omitempty"`
}

// MarshalJSON writes the event with its Extra fields.
func (e Event) MarshalJSON() ([]byte, error) {
	p := plainEvent{
		ID: e.ID, Status: e.Status, Summary: e.Summary, Severity: e.Severity,
		Labels: e.Labels, Annotations: e.Annotations, Source: e.Source, By: e.By,
	}
	if !e.At.IsZero() {
		at := e.At
		p.At = &at
	}
	b, err := json.Marshal(p)
	if err != nil || len(e.Extra) == 0 {
		return b, err
	}
	extra := make(map[string]json.RawMessage, len(e.Extra))
	for k, v := range e.Extra {
		if !knownFields[k] {
			extra[k] = v
		}
	}
	if len(extra) == 0 {
		return b, nil
	}
	xb, err := json.Marshal(extra)
	if err != nil {
		return nil, err
	}
	// Join the two objects: {...known} + {...extra}.
	var buf bytes.Buffer
	buf.Grow(len(b) + len(xb))
	buf.Write(b[:len(b)-1])
	if len(b) > 2 {
		buf.WriteByte(',')
	}
	buf.Write(xb[1:])
	return buf.Bytes(), nil
}
