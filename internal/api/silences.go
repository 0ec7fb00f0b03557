package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/silence"
)

// maxSilenceBody bounds a POST /v1/silences body.
const maxSilenceBody = 64 << 10

// Silences is what the API keeps silences in (a *silence.Store).
type Silences interface {
	Create(ctx context.Context, r silence.Request) (silence.Silence, error)
	Expire(ctx context.Context, id string) (silence.Silence, error)
	List() []silence.View
	Get(id string) (silence.View, bool)
}

// Quieter applies a silence to the escalations already running (an
// *engine.Engine): a new one stops their further steps, an expired one
// wakes those it kept quiet.
type Quieter interface {
	SilenceNow(ctx context.Context, s silence.Silence) (int, error)
	Unsilence(ctx context.Context, id string) (int, error)
}

// SilenceAnswer is POST's and DELETE's answer: the silence with its status,
// and how many running escalations it quietened (POST) or woke (DELETE).
type SilenceAnswer struct {
	silence.View
	Escalations int `json:"escalations"`
}

// createSilence makes a silence: 201 with it, or 400 naming the field.
func (a *API) createSilence(w http.ResponseWriter, r *http.Request) {
	var req silence.Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSilenceBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, bodyProblem(err))
		return
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, problem{Error: "the body holds more than one JSON value"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	s, err := a.cfg.Silences.Create(ctx, req)
	var fe *silence.FieldError
	switch {
	case errors.As(err, &fe):
		writeJSON(w, http.StatusBadRequest, problem{Error: fe.Error(), Field: fe.Field})
		return
	case err != nil:
		a.unavailable(w, "create silence", err)
		return
	}
	a.log.Info("silence created", zap.String("silence", s.ID), zap.String("by", s.By),
		zap.Time("starts_at", s.StartsAt), zap.Time("ends_at", s.EndsAt))
	// The silence is stored: from now on every new alert and every step
	// consults it. Quietening the escalations running now is best effort
	// here, and done at their next step anyway.
	n, err := a.cfg.Quieter.SilenceNow(ctx, s)
	if err != nil {
		a.log.Warn("silence the running escalations (each will be at its next step)", zap.String("silence", s.ID), zap.Error(err))
	}
	v, ok := a.cfg.Silences.Get(s.ID)
	if !ok {
		v = s.ViewAt(s.CreatedAt)
	}
	writeJSON(w, http.StatusCreated, SilenceAnswer{View: v, Escalations: n})
}

// listSilences answers every silence kept, newest first.
func (a *API) listSilences(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"silences": a.cfg.Silences.List()})
}

// getSilence answers one silence, or 404.
func (a *API) getSilence(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, ok := a.cfg.Silences.Get(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, problem{Error: "no silence " + id})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// expireSilence ends a silence at once: 200 with it (expired), or 404. The
// escalations it kept quiet start again, unless something else keeps them
// quiet.
func (a *API) expireSilence(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	s, err := a.cfg.Silences.Expire(ctx, id)
	switch {
	case errors.Is(err, silence.ErrNotFound):
		writeJSON(w, http.StatusNotFound, problem{Error: "no silence " + id})
		return
	case err != nil:
		a.unavailable(w, "expire silence", err)
		return
	}
	a.log.Info("silence expired", zap.String("silence", s.ID))
	// Best effort: the escalations it kept quiet wake at its original end
	// anyway, and then find it expired.
	n, err := a.cfg.Quieter.Unsilence(ctx, s.ID)
	if err != nil {
		a.log.Warn("wake the escalations of an expired silence (each will at the silence's first end)",
			zap.String("silence", s.ID), zap.Error(err))
	}
	v, ok := a.cfg.Silences.Get(s.ID)
	if !ok {
		v = s.ViewAt(s.EndsAt)
	}
	writeJSON(w, http.StatusOK, SilenceAnswer{View: v, Escalations: n})
}

// problem is a 4xx answer: what is wrong and, for a malformed request, with
// which field.
type problem struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// bodyProblem says what is wrong with a body that does not decode, naming
// the field when there is one.
func bodyProblem(err error) problem {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return problem{Error: fmt.Sprintf("%s: must be a %s, got a JSON %s", te.Field, te.Type, te.Value), Field: te.Field}
	}
	var unknown string
	if _, scanErr := fmt.Sscanf(err.Error(), "json: unknown field %q", &unknown); scanErr == nil {
		return problem{Error: unknown + ": unknown field (matchers, matchers_regex, starts_at, ends_at, duration, by, comment)", Field: unknown}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return problem{Error: fmt.Sprintf("the body is over %d bytes", mbe.Limit)}
	}
	return problem{Error: "the body is not a JSON silence: " + err.Error()}
}
