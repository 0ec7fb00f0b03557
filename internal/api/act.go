package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/escalator-oss/escalator/internal/engine"
)

// maxActBody bounds an action's body.
const maxActBody = 16 << 10

// Actor applies a person's action to an escalation (an *engine.Engine).
type Actor interface {
	Act(ctx context.Context, id string, a engine.Action) (*engine.Summary, error)
}

// actRequest is the body of POST /v1/escalations/{id}/{ack,resolve,escalate}
// (optional: an empty body acts for nobody in particular).
type actRequest struct {
	By      string `json:"by"`
	Comment string `json:"comment"`
}

// act serves POST /v1/escalations/{id}/<kind>: 200 with the escalation
// after it, 404 for an unknown id, 409 with its status when its state
// forbids it, 400 for a malformed body.
func (a *API) act(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req actRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxActBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			writeJSON(w, http.StatusBadRequest, bodyProblem(err))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		id, ok := a.lookup(ctx, w, r.PathValue("id"))
		if !ok {
			return
		}
		sum, err := a.cfg.Actor.Act(ctx, id, engine.Action{Kind: kind, By: req.By, Comment: req.Comment})
		var conflict *engine.ConflictError
		switch {
		case errors.Is(err, engine.ErrNotFound):
			writeJSON(w, http.StatusNotFound, problem{Error: "no escalation " + id})
		case errors.As(err, &conflict):
			writeJSON(w, http.StatusConflict, map[string]string{"error": conflict.Why, "status": string(conflict.Status)})
		case err != nil:
			a.unavailable(w, kind+" escalation", err)
		default:
			writeJSON(w, http.StatusOK, sum)
		}
	}
}
