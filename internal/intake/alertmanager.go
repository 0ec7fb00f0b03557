package intake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
)

// amPayload is the Prometheus Alertmanager webhook payload (version "4"),
// and Grafana's unified-alerting webhook (version "1"), which has the same
// shape plus state, title and message. Unknown keys are ignored: both add
// fields over time.
type amPayload struct {
	Version  string    `json:"version"`
	Status   string    `json:"status"`
	Receiver string    `json:"receiver"`
	Alerts   []amAlert `json:"alerts"`
	// Grafana only.
	State   string `json:"state"`
	Title   string `json:"title"`
	Message string `json:"message"`
}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// grafana reports whether the payload came from Grafana rather than
// Alertmanager. (Grafana's Alertmanager-compatible contact point sends
// version "4" without Grafana's extra fields and is treated as Alertmanager.)
func (p *amPayload) grafana() bool {
	return p.Version == "1" || p.State != "" || p.Title != ""
}

// alertmanager serves POST /v1/alertmanager: one event per alert of the
// payload, id = the alert's fingerprint, stored on alerts.alertmanager or
// alerts.grafana. Alertmanager gives up on 4xx and retries on 5xx, so a
// payload that can never be stored is a 400 and a storage failure a 503.
func (in *Intake) alertmanager(w http.ResponseWriter, r *http.Request) {
	source, subject := "alertmanager", SubjectAlertmanager
	reply := func(code int, msg string) { writeJSON(w, code, errorBody{Error: msg}) }
	data, ok := readBody(w, r, reply)
	if !ok {
		in.rejected(source, &alert.InvalidError{Reason: alert.ReasonTooLarge})
		return
	}
	var p amPayload
	if err := json.Unmarshal(data, &p); err != nil {
		in.rejected(source, &alert.InvalidError{Reason: alert.ReasonNotJSON})
		reply(http.StatusBadRequest, "body is not an Alertmanager webhook payload: "+err.Error())
		return
	}
	if p.grafana() {
		source, subject = "grafana", SubjectGrafana
	}
	if len(p.Alerts) == 0 {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "no alerts in the payload", Field: "alerts"})
		return
	}
	evs := make([]alert.Event, 0, len(p.Alerts))
	for i, a := range p.Alerts {
		ev := alert.Event{
			ID: a.Fingerprint, Status: alert.Status(a.Status), Labels: a.Labels, Annotations: a.Annotations,
			Source: source, Summary: a.Annotations["summary"],
		}
		if ev.Summary == "" {
			ev.Summary = a.Annotations["description"]
		}
		if ev.Summary == "" {
			ev.Summary = a.Labels["alertname"]
		}
		switch ev.Status {
		case alert.Firing:
			ev.At = usable(a.StartsAt)
		case alert.Resolved:
			ev.At = usable(a.EndsAt)
		}
		if a.GeneratorURL != "" {
			ev.Extra = map[string]json.RawMessage{"generator_url": mustJSON(a.GeneratorURL)}
		}
		err := ev.Validate()
		if err == nil {
			err = in.checkSize(ev)
		}
		if err != nil {
			in.rejected(source, err)
			var field string
			if ie, ok := err.(*alert.InvalidError); ok && ie.Field != "" {
				field = "." + ie.Field
				if ie.Field == "id" {
					field = ".fingerprint"
				}
			}
			writeJSON(w, statusFor(err), errorBody{Error: err.Error(), Field: fmt.Sprintf("alerts[%d]%s", i, field)})
			return
		}
		evs = append(evs, ev)
	}
	in.store(w, r, subject, source, evs)
}

// usable returns t, or the zero time for Alertmanager's "unknown"
// (0001-01-01T00:00:00Z) and other pre-epoch values.
func usable(t time.Time) time.Time {
	if t.Unix() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
