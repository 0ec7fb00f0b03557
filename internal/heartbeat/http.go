package heartbeat

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/httpauth"
	"github.com/escalator-oss/escalator/internal/policy"
)

// requestTimeout bounds the JetStream work of one request.
const requestTimeout = 10 * time.Second

// The states of a monitor, in Status.State.
const (
	// StateWaiting: never pinged, its first deadline counting from when it
	// was loaded (or not loaded by any worker yet: no deadline).
	StateWaiting = "waiting"
	// StateOK: pinged, its deadline counting from the last ping.
	StateOK = "ok"
	// StateMissed: its deadline passed without a ping; its alert is firing
	// until the next ping.
	StateMissed = "missed"
)

// Status is one monitor as GET /v1/heartbeats shows it.
type Status struct {
	Name    string            `json:"name"`
	AlertID string            `json:"alert_id"`
	Every   string            `json:"every"`
	Labels  map[string]string `json:"labels,omitempty"`
	Summary string            `json:"summary,omitempty"`
	File    string            `json:"file,omitempty"`
	// State is StateWaiting, StateOK or StateMissed.
	State    string    `json:"state"`
	LastPing time.Time `json:"last_ping,omitzero"`
	// Deadline is when the monitor misses without a ping (absent while
	// missed, and before any worker loaded it).
	Deadline time.Time `json:"deadline,omitzero"`
	// Missed is the deadline that was missed, while the alert is firing.
	Missed time.Time `json:"missed,omitzero"`
}

// Statuses returns every monitor in force with its state, by name.
func (r *Runtime) Statuses(ctx context.Context) ([]Status, error) {
	idx := r.monitors()
	out := make([]Status, 0, len(idx.byName))
	for _, h := range idx.byName {
		s, err := r.status(ctx, h)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ErrNotFound is Get's error for a name no monitor in force has.
var ErrNotFound = errors.New("no such heartbeat monitor")

// Get returns one monitor in force with its state, or ErrNotFound.
func (r *Runtime) Get(ctx context.Context, name string) (Status, error) {
	h := r.monitor(name)
	if h == nil {
		return Status{}, ErrNotFound
	}
	return r.status(ctx, h)
}

func (r *Runtime) status(ctx context.Context, h *policy.Heartbeat) (Status, error) {
	s := Status{Name: h.Name, AlertID: AlertID(h.Name), Every: h.Every.String(), Labels: h.Labels, Summary: h.Summary,
		File: h.File, State: StateWaiting}
	rec, _, err := r.st.load(ctx, key(h.Name))
	if err != nil || rec == nil {
		return s, err
	}
	s.LastPing = rec.LastPing
	switch {
	case rec.firing():
		s.State, s.Missed = StateMissed, rec.Missed
	case !rec.LastPing.IsZero():
		s.State, s.Deadline = StateOK, rec.deadline(h.Every)
	default:
		s.Deadline = rec.deadline(h.Every)
	}
	return s, nil
}

// Register adds the monitors' HTTP paths to mux, each behind the token:
//   - POST /v1/heartbeats/{name}: a ping; 202 once stored in JetStream, 404
//     for no monitor in force, 503 (with Retry-After) when it could not be
//     stored. The body is not read.
//   - GET /v1/heartbeats: every monitor with its state ({"heartbeats": [...]}).
//   - GET /v1/heartbeats/{name}: one monitor; 404 when none.
func (r *Runtime) Register(mux *http.ServeMux) {
	auth := httpauth.Token(r.cfg.Token)
	mux.Handle("POST /v1/heartbeats/{name}", auth.Require(http.HandlerFunc(r.servePing)))
	mux.Handle("GET /v1/heartbeats", auth.Require(http.HandlerFunc(r.serveList)))
	mux.Handle("GET /v1/heartbeats/{name}", auth.Require(http.HandlerFunc(r.serveGet)))
}

func (r *Runtime) servePing(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("name")
	if r.monitor(name) == nil {
		r.m.rejected.WithLabelValues(ReasonUnknown).Inc()
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no heartbeat monitor named " + quote(name) + " is in force"})
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), requestTimeout)
	defer cancel()
	err := Ping(ctx, r.js, name)
	if errors.Is(err, ErrUnknown) {
		// Policy validation refuses such names; say so rather than 503.
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if err != nil {
		r.log.Error("store ping", zap.String("heartbeat", name), zap.Error(err))
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "could not store the ping in JetStream; retry"})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "accepted", "heartbeat": name})
}

func (r *Runtime) serveList(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), requestTimeout)
	defer cancel()
	list, err := r.Statuses(ctx)
	if err != nil {
		r.unavailable(w, "list heartbeat monitors", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"heartbeats": list})
}

func (r *Runtime) serveGet(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("name")
	ctx, cancel := context.WithTimeout(req.Context(), requestTimeout)
	defer cancel()
	s, err := r.Get(ctx, name)
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no heartbeat monitor named " + quote(name) + " is in force"})
	case err != nil:
		r.unavailable(w, "read heartbeat monitor", err)
	default:
		writeJSON(w, http.StatusOK, s)
	}
}

func (r *Runtime) unavailable(w http.ResponseWriter, what string, err error) {
	r.log.Warn(what, zap.Error(err))
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": what + ": " + err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
