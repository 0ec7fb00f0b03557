package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/policy"
)

// Register adds the escalation read API to mux:
// GET /v1/escalations and GET /v1/escalations/{id}.
func (e *Engine) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/escalations", e.listEscalations)
	mux.HandleFunc("GET /v1/escalations/{id}", e.getEscalation)
}

// Summary is one escalation in the list of active ones.
type Summary struct {
	ID       string        `json:"id"`
	Policy   string        `json:"policy"`
	AlertID  string        `json:"alert_id"`
	Alerts   int           `json:"alerts"`
	Status   policy.Status `json:"status"`
	Step     int           `json:"step"`
	Loop     int           `json:"loop"`
	NextAt   time.Time     `json:"next_at"`
	Started  time.Time     `json:"started_at"`
	InFlight bool          `json:"in_flight"`
}

func summarize(esc *Escalation) Summary {
	name := ""
	if esc.Policy != nil { // always set by the engine; a damaged record still lists
		name = esc.Policy.Name
	}
	return Summary{ID: esc.ID, Policy: name, AlertID: esc.AlertID, Alerts: len(esc.Alerts), Status: esc.State.Status,
		Step: esc.State.Step, Loop: esc.State.Loop, NextAt: esc.State.NextAt, Started: esc.CreatedAt, InFlight: esc.Intent != nil}
}

// listEscalations answers the active escalations, oldest first.
func (e *Engine) listEscalations(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	latest := map[string]Summary{}
	err := e.scanLatest(ctx, "e.", func(r entry) {
		var esc Escalation
		if r.Deleted || json.Unmarshal(r.Data, &esc) != nil || esc.State.Finished() {
			delete(latest, r.Key)
			return
		}
		latest[r.Key] = summarize(&esc)
	})
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "list escalations: " + err.Error()})
		return
	}
	out := make([]Summary, 0, len(latest))
	for _, s := range latest {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	writeJSON(w, http.StatusOK, map[string]any{"escalations": out})
}

// getEscalation answers one escalation: its current record, when it is the
// latest of its group, and its timeline from the outcome stream.
func (e *Engine) getEscalation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	tok, _, ok := strings.Cut(id, "-")
	if !ok || len(tok) != 24 {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no escalation " + id})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	timeline, err := e.timeline(ctx, id)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "read timeline: " + err.Error()})
		return
	}
	resp := map[string]any{"id": id, "timeline": timeline}
	if esc, _, err := e.st.load(ctx, escKey(tok)); err == nil && esc != nil && esc.ID == id {
		resp["escalation"] = summarize(esc)
		resp["calls"] = esc.Calls
	} else if len(timeline) == 0 {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no escalation " + id})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// timeline reads an escalation's outcomes, in order.
func (e *Engine) timeline(ctx context.Context, id string) ([]outcome.Outcome, error) {
	c, err := e.js.OrderedConsumer(ctx, natsx.StreamOutcomes, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"escalations." + SubjectToken(id) + ".>"}})
	if err != nil {
		return nil, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, err
	}
	out := []outcome.Outcome{}
	pending := int(info.NumPending)
	for pending > 0 {
		batch, err := c.Fetch(min(pending, 500), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		got := 0
		for m := range batch.Messages() {
			var o outcome.Outcome
			if json.Unmarshal(m.Data(), &o) == nil {
				out = append(out, o)
			}
			got++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, err
		}
		if got == 0 {
			break
		}
		pending -= got
	}
	return out, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
