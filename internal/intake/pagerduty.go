package intake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
)

// pdEvent is a PagerDuty Events API v2 event.
type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload"`
	Client      string     `json:"client"`
	ClientURL   string     `json:"client_url"`
}

type pdPayload struct {
	Summary       string          `json:"summary"`
	Source        string          `json:"source"`
	Severity      string          `json:"severity"`
	Timestamp     string          `json:"timestamp"`
	Component     string          `json:"component"`
	Group         string          `json:"group"`
	Class         string          `json:"class"`
	CustomDetails json.RawMessage `json:"custom_details"`
}

// pdResponse is PagerDuty's answer, success or error.
type pdResponse struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

var pdSeverities = map[string]bool{"critical": true, "error": true, "warning": true, "info": true}

// pagerduty serves POST /v2/enqueue, answering as PagerDuty's Events API v2
// does, so any tool that can page PagerDuty can page escalator by changing
// one URL. dedup_key is the alert id; routing_key becomes a label.
func (in *Intake) pagerduty(w http.ResponseWriter, r *http.Request) {
	const source = "pagerduty"
	invalid := func(code int, errs ...string) {
		writeJSON(w, code, pdResponse{Status: "invalid event", Message: "Event object is invalid", Errors: errs})
	}
	data, ok := readBody(w, r, func(code int, msg string) { invalid(code, msg) })
	if !ok {
		in.rejected(source, &alert.InvalidError{Reason: alert.ReasonTooLarge})
		return
	}
	var e pdEvent
	if err := json.Unmarshal(data, &e); err != nil {
		in.rejected(source, &alert.InvalidError{Reason: alert.ReasonNotJSON})
		invalid(http.StatusBadRequest, "Request body is not valid JSON: "+err.Error())
		return
	}
	var errs []string
	if strings.TrimSpace(e.RoutingKey) == "" {
		errs = append(errs, "'routing_key' is missing or blank")
	}
	status := map[string]alert.Status{"trigger": alert.Firing, "acknowledge": alert.Acknowledged, "resolve": alert.Resolved}[e.EventAction]
	switch {
	case status == "":
		errs = append(errs, "'event_action' must be one of trigger, acknowledge or resolve")
	case status != alert.Firing && e.DedupKey == "":
		errs = append(errs, "'dedup_key' is required for "+e.EventAction+" events")
	case status == alert.Firing:
		switch {
		case e.Payload == nil:
			errs = append(errs, "'payload' is missing")
		default:
			if strings.TrimSpace(e.Payload.Summary) == "" {
				errs = append(errs, "'payload.summary' is missing or blank")
			}
			if strings.TrimSpace(e.Payload.Source) == "" {
				errs = append(errs, "'payload.source' is missing or blank")
			}
			if !pdSeverities[e.Payload.Severity] {
				errs = append(errs, "'payload.severity' must be one of critical, error, warning or info")
			}
		}
	}
	if len(e.DedupKey) > 255 {
		errs = append(errs, "'dedup_key' is longer than 255 characters")
	}
	if len(errs) > 0 {
		in.rejected(source, &alert.InvalidError{Reason: alert.ReasonBadField})
		invalid(http.StatusBadRequest, errs...)
		return
	}
	if e.DedupKey == "" {
		e.DedupKey = newDedupKey()
	}
	ev := alert.Event{ID: e.DedupKey, Status: status, Source: source, Labels: map[string]string{"routing_key": e.RoutingKey}}
	if p := e.Payload; p != nil {
		ev.Summary, ev.Severity = p.Summary, p.Severity
		for k, v := range map[string]string{"severity": p.Severity, "source": p.Source, "component": p.Component, "group": p.Group, "class": p.Class} {
			if v != "" {
				ev.Labels[k] = v
			}
		}
		if t, err := time.Parse(time.RFC3339Nano, p.Timestamp); err == nil {
			ev.At = t.UTC()
		}
		ev.Annotations = flatten(p.CustomDetails)
	}
	if e.ClientURL != "" {
		if ev.Annotations == nil {
			ev.Annotations = map[string]string{}
		}
		ev.Annotations["client_url"] = e.ClientURL
	}
	if err := ev.Validate(); err != nil {
		in.rejected(source, err)
		invalid(statusFor(err), "'dedup_key': "+err.Error())
		return
	}
	if err := in.checkSize(ev); err != nil {
		in.rejected(source, err)
		invalid(http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	if _, err := in.publishAll(r.Context(), SubjectPagerDuty, source, []alert.Event{ev}); err != nil {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, pdResponse{Status: "error", Message: err.Error()})
		return
	}
	writeJSON(w, http.StatusAccepted, pdResponse{Status: "success", Message: "Event processed", DedupKey: e.DedupKey})
}

// flatten turns custom_details into annotations: strings as they are, other
// values as JSON. A non-object becomes the single annotation "details".
func flatten(raw json.RawMessage) map[string]string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return map[string]string{"details": s}
		}
		return map[string]string{"details": string(raw)}
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out
}

// newDedupKey makes a key for a trigger without one, as PagerDuty does.
func newDedupKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
