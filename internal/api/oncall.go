package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/escalator-oss/escalator/internal/policy"
)

// defaultNext is how many hand-offs GET /v1/oncall lists after the current
// shift, unless ?next= says.
const defaultNext = 3

// OnCallAnswer is GET /v1/oncall's answer (the JSON of `escalator oncall
// --format json`): who is on call at a moment in each roster.
type OnCallAnswer struct {
	At      time.Time             `json:"at"`
	Rosters []policy.RosterOnCall `json:"rosters"`
}

// oncall serves GET /v1/oncall?policy=&roster=&at=&next=: for the rosters
// of the policies in force (those a policy uses, or one roster), who is on
// call at `at` (RFC 3339, default now), since when, until when, which layer
// covers whom, the overrides applied and the next hand-offs.
func (a *API) oncall(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	at := time.Now()
	if s := v.Get("at"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, problem{Error: fmt.Sprintf("at: must be an RFC 3339 time such as 2026-11-30T09:00:00+09:00, got %q", s), Field: "at"})
			return
		}
		at = t
	}
	next := defaultNext
	if s := v.Get("next"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 100 {
			writeJSON(w, http.StatusBadRequest, problem{Error: fmt.Sprintf("next: must be a number from 0 to 100, got %q", s), Field: "next"})
			return
		}
		next = n
	}
	set := a.cfg.Policies()
	if set == nil {
		writeJSON(w, http.StatusServiceUnavailable, problem{Error: "no policies loaded yet"})
		return
	}
	q := policy.OnCallQuery{Policy: v.Get("policy"), Roster: v.Get("roster"), Next: next}
	if q.Policy != "" {
		if _, ok := set.Get(q.Policy); !ok {
			writeJSON(w, http.StatusNotFound, problem{Error: "no policy " + q.Policy + " in force", Field: "policy"})
			return
		}
	}
	list := set.OnCallAt(at, q)
	if q.Roster != "" && len(list) == 0 {
		writeJSON(w, http.StatusNotFound, problem{Error: "no roster " + q.Roster + " (a shared roster's name, or a policy's for its own)", Field: "roster"})
		return
	}
	writeJSON(w, http.StatusOK, OnCallAnswer{At: at, Rosters: list})
}
