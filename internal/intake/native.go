package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/escalator-oss/escalator/internal/alert"
)

// native serves POST /v1/alerts: one event or an array of events in
// escalator's schema, stored on alerts.http. All events are validated before
// any is stored: a 400 means none was.
func (in *Intake) native(w http.ResponseWriter, r *http.Request) {
	const source = "http"
	reply := func(code int, msg string) { writeJSON(w, code, errorBody{Error: msg}) }
	data, ok := readBody(w, r, reply)
	if !ok {
		in.rejected(source, &alert.InvalidError{Reason: alert.ReasonTooLarge})
		return
	}
	var raws []json.RawMessage
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			in.rejected(source, &alert.InvalidError{Reason: alert.ReasonNotJSON})
			reply(http.StatusBadRequest, "body is not a JSON array of events: "+err.Error())
			return
		}
		if len(raws) == 0 {
			reply(http.StatusBadRequest, "empty array: send at least one event")
			return
		}
	} else {
		raws = []json.RawMessage{trimmed}
	}
	evs := make([]alert.Event, 0, len(raws))
	for i, raw := range raws {
		ev, err := alert.Decode(raw, in.cfg.MaxEventSize)
		if err == nil && ev.Source == "" {
			ev.Source = source
		}
		if err == nil {
			err = in.checkSize(ev)
		}
		if err != nil {
			in.rejected(source, err)
			field := ""
			var ie *alert.InvalidError
			if errors.As(err, &ie) {
				field = ie.Field
			}
			if len(raws) > 1 {
				field = fmt.Sprintf("[%d]", i) + dotted(field)
			}
			writeJSON(w, statusFor(err), errorBody{Error: err.Error(), Field: field})
			return
		}
		evs = append(evs, ev)
	}
	in.store(w, r, SubjectHTTP, source, evs)
}

func dotted(f string) string {
	if f == "" {
		return ""
	}
	return "." + f
}

// store publishes evs and answers 202 with their ids, or 503.
func (in *Intake) store(w http.ResponseWriter, r *http.Request, subject, source string, evs []alert.Event) {
	dups, err := in.publishAll(r.Context(), subject, source, evs)
	if err != nil {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: err.Error()})
		return
	}
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	writeJSON(w, http.StatusAccepted, acceptedBody{Status: "accepted", Accepted: len(evs) - dups, Duplicates: dups, IDs: ids})
}

// ack serves POST /v1/alerts/{id}/ack with an optional {"by": "..."} body:
// an acknowledged event for that alert, stored on alerts.http.
func (in *Intake) ack(w http.ResponseWriter, r *http.Request) {
	const source = "http"
	reply := func(code int, msg string) { writeJSON(w, code, errorBody{Error: msg}) }
	data, ok := readBody(w, r, reply)
	if !ok {
		return
	}
	var body struct {
		By string `json:"by"`
	}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &body); err != nil {
			in.rejected(source, &alert.InvalidError{Reason: alert.ReasonBadField})
			writeJSON(w, http.StatusBadRequest, errorBody{Error: `body must be empty or {"by": "<who>"}`, Field: "by"})
			return
		}
	}
	ev := alert.Event{ID: r.PathValue("id"), Status: alert.Acknowledged, By: body.By, Source: source, At: in.cfg.Now().UTC()}
	if err := ev.Validate(); err != nil {
		in.rejected(source, err)
		writeJSON(w, statusFor(err), errorBody{Error: err.Error(), Field: "id"})
		return
	}
	in.store(w, r, SubjectHTTP, source, []alert.Event{ev})
}
