package engine

import (
	"net/http"
)

// Register adds the escalation read API to mux:
// GET /v1/escalations and GET /v1/escalations/{id}.
func (e *Engine) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/escalations", e.listEscalations)
	mux.HandleFunc("GET /v1/escalations/{id}", e.getEscalation)
}

func (e *Engine) listEscalations(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented yet", http.StatusNotImplemented)
}

func (e *Engine) getEscalation(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented yet", http.StatusNotImplemented)
}
