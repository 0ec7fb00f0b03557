package ccaisim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/escalator-oss/escalator/internal/phone"
)

type obj = map[string]any

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /apps/api/v1/calls", s.guard(s.createCall))
	mux.HandleFunc("GET /manager/api/v1/calls", s.guard(s.listCalls))
	// A sign-in page, where RedirectNext sends requests (as a single sign-on
	// proxy in front of a wrong base URL would): 200, HTML, no auth.
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		s.record(r, nil)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>Sign in</title><form>Sign in to continue</form>")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.record(r, nil)
		reply(w, http.StatusNotFound, obj{"message": "Resource not found"})
	})
	return mux
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) record(r *http.Request, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Body: body})
}

// guard records the request and applies faults, auth and the rate limit.
func (s *Server) guard(next func(http.ResponseWriter, *http.Request, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.record(r, body)
		s.mu.Lock()
		stall, code := s.stallN > 0, 0
		var answer *canned
		switch {
		case stall:
			s.stallN--
		case s.failN > 0:
			s.failN--
			code = s.failCode
		case len(s.canned) > 0:
			answer = &s.canned[0]
			s.canned = s.canned[1:]
		}
		user, pass, ok := r.BasicAuth()
		authed := ok && subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.Key)) == 1 &&
			subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.Secret)) == 1
		limited := !stall && code == 0 && authed && s.overLimit(s.cfg.Clock.Now())
		s.mu.Unlock()
		switch {
		case stall:
			select {
			case <-r.Context().Done():
			case <-s.closing:
			}
		case answer != nil:
			if answer.location != "" {
				w.Header().Set("Location", answer.location)
			}
			if answer.contentType != "" {
				w.Header().Set("Content-Type", answer.contentType)
			}
			w.WriteHeader(answer.code)
			_, _ = io.WriteString(w, answer.body)
		case code != 0:
			if code == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			reply(w, code, obj{"message": http.StatusText(code)})
		case !authed:
			w.Header().Set("WWW-Authenticate", `Basic realm="api"`)
			reply(w, http.StatusUnauthorized, obj{"message": "Unauthorized"})
		case limited:
			w.Header().Set("Retry-After", "1")
			reply(w, http.StatusTooManyRequests, obj{"message": "Too many requests"})
		default:
			next(w, r, body)
		}
	}
}

// fields reads a JSON object body; any other content type reads as empty,
// as a server that only parses JSON would.
func fields(r *http.Request, body []byte) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" {
		_ = json.Unmarshal(body, &out)
	}
	return out
}

func str(f map[string]json.RawMessage, k string) string {
	var s string
	_ = json.Unmarshal(f[k], &s)
	return s
}

func (s *Server) createCall(w http.ResponseWriter, r *http.Request, body []byte) {
	f := fields(r, body)
	c := &Call{CallType: str(f, "call_type"), AgentEmail: str(f, "agent_email"), EndUserNumber: str(f, "end_user_number"),
		OutboundNumber: str(f, "outbound_number"), Lang: str(f, "lang")}
	if c.Lang == "" {
		c.Lang = "en"
	}
	s.mu.Lock()
	code, msg := s.check(c, f)
	var created obj
	if code == http.StatusCreated {
		s.create(c)
		created = callObject(c) // rendered now: the call moves on under s.mu
	}
	s.mu.Unlock()
	switch code {
	case http.StatusCreated:
		reply(w, code, created)
	case http.StatusAccepted:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write(body)
	default:
		reply(w, code, obj{"message": msg})
	}
}

// check validates a call request in the platform's order; s.mu is held.
func (s *Server) check(c *Call, f map[string]json.RawMessage) (int, string) {
	switch c.CallType {
	case "Voice Outbound (API)", "OutboundCall":
		st, known := s.agents[c.AgentEmail]
		switch {
		case c.AgentEmail == "":
			return 400, "Agent email required"
		case !known:
			return 400, "Not a valid agent email"
		case st == NoAccess:
			return 400, "Agent does not have access to make calls"
		case str(f, "ticket_id") != "":
			return 400, "Contact not found"
		case c.EndUserNumber == "":
			return 400, "ticket_id or end_user_number required"
		case !valid(c.EndUserNumber) || s.refused[c.EndUserNumber]:
			return 400, "end_user_number is not well-formed"
		case st == Unavailable || s.busyWith(c.AgentEmail) != 0:
			// An agent takes one call at a time.
			return 400, "Agent is not available to take this call"
		case st == Widget:
			return http.StatusAccepted, ""
		}
		c.Status = "assigned"
		return http.StatusCreated, ""
	case "Voice Inbound (API)", "IncomingCall":
		raw, ok := f["menu_id"]
		if !ok || string(raw) == "null" {
			return 400, "menu_id is required"
		}
		id, err := strconv.Atoi(string(bytes.TrimSpace(raw)))
		if err != nil {
			return 400, "menu_id is not well formed"
		}
		m, ok := s.menus[id]
		switch {
		case !ok:
			return 400, fmt.Sprintf("menu_id %d is not found", id)
		case m.kind != "ivr_menu" && m.kind != "mobile_menu":
			return 400, "Only IVR and mobile menu IDs are permitted"
		case m.state == MenuManualRedirection:
			return 400, "Menu is in 'manual redirection' state, can't accept calls"
		case m.state == MenuAfterHours:
			return 400, "Menu is in 'after hours' state, can't accept incoming calls"
		case c.EndUserNumber == "":
			return 400, "end_user_number is required"
		case !valid(c.EndUserNumber) || s.refused[c.EndUserNumber]:
			return 400, "end_user_number is not well formed"
		}
		c.MenuID, c.Status = id, "queued"
		return http.StatusCreated, ""
	}
	return 400, "Invalid call type"
}

func valid(n string) bool {
	_, err := phone.Parse(n)
	return err == nil
}

// callObject renders a call as the API does, with keys clients must ignore.
func callObject(c *Call) obj {
	o := obj{"id": c.ID, "lang": c.Lang, "call_type": c.CallType, "status": c.Status, "fail_reason": "nothing",
		"voip_provider": "voip_provider_twilio", "recording_permission": "not_asked", "photos": []any{},
		"agent_info": nil, "participants": []any{}, "answer_type": "manual", "outbound_number": c.OutboundNumber}
	if c.FailReason != "" {
		o["fail_reason"] = c.FailReason
	}
	if c.AgentEmail != "" {
		o["agent_info"] = obj{"id": 1, "name": c.AgentEmail, "agent_number": nil}
	}
	if c.MenuID != 0 {
		o["selected_menu"] = obj{"id": c.MenuID, "menu_type": "ivr_menu"}
	}
	return o
}

// listCalls is the Manager API's call list, newest first, page/per.
func (s *Server) listCalls(w http.ResponseWriter, r *http.Request, _ []byte) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	per, _ := strconv.Atoi(r.URL.Query().Get("per"))
	page, per = max(page, 1), max(per, 1)
	if r.URL.Query().Get("per") == "" {
		per = 100
	}
	s.mu.Lock()
	s.tick()
	out := []obj{}
	for i := len(s.calls) - 1 - (page-1)*per; i >= 0 && len(out) < per; i-- {
		out = append(out, callObject(s.calls[i]))
	}
	s.mu.Unlock()
	reply(w, http.StatusOK, out)
}
