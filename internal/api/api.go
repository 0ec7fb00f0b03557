// Package api serves escalator's read and write HTTP API for people and
// their tools (the operator CLI, the web console): the escalations and their
// timelines, and the silences. The intake (internal/intake) stays the door for monitoring
// systems. Every path requires the --http-token when one is set.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/engine"
	"github.com/escalator-oss/escalator/internal/httpauth"
	"github.com/escalator-oss/escalator/internal/policy"
)

// requestTimeout bounds the JetStream reads of one request.
const requestTimeout = 10 * time.Second

// Escalations is what the API reads escalations from (an *engine.Engine).
type Escalations interface {
	// List returns a page of escalations, newest first.
	List(ctx context.Context, q engine.Query) (engine.Page, error)
	// Find returns one escalation, or engine.ErrNotFound.
	Find(ctx context.Context, id string) (*engine.Detail, error)
	// Lookup returns the id of the escalation a reference names (an id, a
	// short code, an alert id): engine.ErrNotFound, or an
	// *engine.AmbiguousError for a short code several share.
	Lookup(ctx context.Context, ref string) (string, error)
	// Upcoming returns what an escalation would still do if nobody acted.
	Upcoming(ctx context.Context, ref string) (*engine.Plan, error)
}

// Config configures an API.
type Config struct {
	Escalations Escalations
	// Silences, when set, serves /v1/silences; Quieter (required with it)
	// applies a new or expired silence to the running escalations.
	Silences Silences
	Quieter  Quieter
	// Actor, when set, serves POST /v1/escalations/{id}/{ack,resolve,escalate}.
	Actor Actor
	// Follower, when set, serves GET /v1/events.
	Follower Follower
	// Policies, when set, returns the policies in force: GET /v1/oncall.
	Policies func() *policy.Set
	// Token, when set, is required on every path (httpauth.Token).
	Token  string
	Logger *zap.Logger
}

// API is the HTTP API. Create it with New and add it to a mux with Register.
type API struct {
	cfg Config
	log *zap.Logger
}

// New returns the API for cfg.
func New(cfg Config) (*API, error) {
	if cfg.Escalations == nil {
		return nil, errors.New("new api: Escalations is required")
	}
	if cfg.Silences != nil && cfg.Quieter == nil {
		return nil, errors.New("new api: Silences needs a Quieter")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &API{cfg: cfg, log: cfg.Logger.With(zap.String("component", "api"))}, nil
}

// Register adds the API's paths to mux:
// GET /v1/escalations, GET /v1/escalations/{id}, with an Actor POST
// /v1/escalations/{id}/{ack,resolve,escalate}, and with Silences
// POST and GET /v1/silences, GET and DELETE /v1/silences/{id}.
func (a *API) Register(mux *http.ServeMux) {
	auth := httpauth.Token(a.cfg.Token)
	mux.Handle("GET /v1/escalations", auth.Require(http.HandlerFunc(a.listEscalations)))
	mux.Handle("GET /v1/escalations/{id}", auth.Require(http.HandlerFunc(a.getEscalation)))
	mux.Handle("GET /v1/escalations/{id}/plan", auth.Require(http.HandlerFunc(a.getPlan)))
	if a.cfg.Actor != nil {
		for _, kind := range []string{engine.ActAck, engine.ActResolve, engine.ActEscalate} {
			mux.Handle("POST /v1/escalations/{id}/"+kind, auth.Require(a.act(kind)))
		}
	}
	if a.cfg.Policies != nil {
		mux.Handle("GET /v1/oncall", auth.Require(http.HandlerFunc(a.oncall)))
	}
	if a.cfg.Follower != nil {
		mux.Handle("GET /v1/events", auth.Require(http.HandlerFunc(a.events)))
	}
	if a.cfg.Silences != nil {
		mux.Handle("POST /v1/silences", auth.Require(http.HandlerFunc(a.createSilence)))
		mux.Handle("GET /v1/silences", auth.Require(http.HandlerFunc(a.listSilences)))
		mux.Handle("GET /v1/silences/{id}", auth.Require(http.HandlerFunc(a.getSilence)))
		mux.Handle("DELETE /v1/silences/{id}", auth.Require(http.HandlerFunc(a.expireSilence)))
	}
}

// listEscalations answers a page of escalations, newest first:
// ?status=active|acknowledged|ended|all (default active), &policy=,
// &limit= (default 50, at most 500), &cursor= (a page's next_cursor).
func (a *API) listEscalations(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := engine.Query{Status: v.Get("status"), Policy: v.Get("policy"), Cursor: v.Get("cursor")}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			writeJSON(w, http.StatusBadRequest, problem{Error: fmt.Sprintf("limit: must be a positive number, got %q", s), Field: "limit"})
			return
		}
		q.Limit = n
	}
	switch q.Status {
	case "", engine.ListActive, engine.ListAcknowledged, engine.ListEnded, engine.ListAll:
	default:
		writeJSON(w, http.StatusBadRequest, problem{Error: fmt.Sprintf("status: must be active, acknowledged, ended or all, got %q", q.Status), Field: "status"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	page, err := a.cfg.Escalations.List(ctx, q)
	switch {
	case errors.Is(err, engine.ErrBadCursor):
		writeJSON(w, http.StatusBadRequest, problem{Error: "cursor: " + err.Error(), Field: "cursor"})
	case err != nil:
		a.unavailable(w, "list escalations", err)
	default:
		writeJSON(w, http.StatusOK, page)
	}
}

// getEscalation answers one escalation, named by its id, its short code or
// an alert id: its current record, when it is the latest of its group, and
// its timeline from the outcome stream.
func (a *API) getEscalation(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	id, ok := a.lookup(ctx, w, r.PathValue("id"))
	if !ok {
		return
	}
	d, err := a.cfg.Escalations.Find(ctx, id)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		writeJSON(w, http.StatusNotFound, problem{Error: "no escalation " + id})
	case err != nil:
		a.unavailable(w, "read escalation", err)
	default:
		writeJSON(w, http.StatusOK, d)
	}
}

// getPlan answers what an escalation would still do if nobody acted: its
// steps to come, with their times, people and providers.
func (a *API) getPlan(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	id, ok := a.lookup(ctx, w, r.PathValue("id"))
	if !ok {
		return
	}
	plan, err := a.cfg.Escalations.Upcoming(ctx, id)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		writeJSON(w, http.StatusNotFound, problem{Error: "no escalation " + id})
	case err != nil:
		a.unavailable(w, "plan escalation", err)
	default:
		writeJSON(w, http.StatusOK, plan)
	}
}

// lookup finds the escalation ref names, or answers why not (404; 409 with
// the ids for a short code several share) and returns false.
func (a *API) lookup(ctx context.Context, w http.ResponseWriter, ref string) (string, bool) {
	id, err := a.cfg.Escalations.Lookup(ctx, ref)
	var amb *engine.AmbiguousError
	switch {
	case errors.Is(err, engine.ErrNotFound):
		writeJSON(w, http.StatusNotFound, problem{Error: "no escalation " + ref + " (an id, a short code or an alert id)"})
	case errors.As(err, &amb):
		writeJSON(w, http.StatusConflict, map[string]any{"error": amb.Error(), "ids": amb.IDs})
	case err != nil:
		a.unavailable(w, "find escalation", err)
	default:
		return id, true
	}
	return "", false
}

func (a *API) unavailable(w http.ResponseWriter, what string, err error) {
	a.log.Warn(what, zap.Error(err))
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": what + ": " + err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
