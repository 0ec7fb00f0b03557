package yemotsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// answer is a JSON answer object.
type answer map[string]any

func fail(status, msg string) answer { return answer{"responseStatus": status, "message": msg} }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	cmd, ok := strings.CutPrefix(r.URL.Path, "/ym/api/")
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Command: cmd, ContentType: r.Header.Get("Content-Type"), Query: r.URL.RawQuery, Body: body})
	var raw *Response
	if len(s.raw) > 0 {
		raw = &s.raw[0]
		s.raw = s.raw[1:]
	}
	stall := raw == nil && s.stallN > 0
	if stall {
		s.stallN--
	}
	code := 0
	if raw == nil && !stall && s.failN > 0 {
		s.failN--
		code = s.failCode
	}
	s.mu.Unlock()
	_, known := commands[cmd]
	switch {
	case raw != nil:
		for k, vs := range raw.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(raw.Code)
		_, _ = io.WriteString(w, raw.Body)
		return
	case stall:
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return
	case code != 0:
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		http.Error(w, http.StatusText(code), code)
		return
	case !ok || !known:
		http.NotFound(w, r)
		return
	case r.Method != http.MethodGet && r.Method != http.MethodPost:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p, err := parseParams(r, body)
	var out answer
	if err != nil {
		out = fail("ERROR", err.Error())
	} else {
		out = s.run(cmd, p)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// run executes one command and returns its answer (HTTP 200 in every case,
// as Yemot does).
func (s *Server) run(cmd string, p params) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	spec := commands[cmd]
	if cmd == "Login" {
		if a := spec.check(p); a != nil {
			return a
		}
		if p.str("username") != s.cfg.System || p.str("password") != s.cfg.Password {
			return fail("FORBIDDEN", "login failed: wrong username or password")
		}
		s.logins++
		tok := fmt.Sprintf("sim-session-%d-%d", s.logins, len(s.requests))
		s.sessions[tok] = false
		return answer{"responseStatus": "OK", "token": tok}
	}
	if s.answerN > 0 {
		s.answerN--
		return s.answerAs
	}
	if a := s.checkToken(p.str("token")); a != nil {
		return a
	}
	if a := spec.check(p); a != nil {
		return a
	}
	switch cmd {
	case "GetCampaignStatus":
		return s.campaignStatus(p.str("campaignId"))
	case "GetSmsIncomingLog":
		return s.smsLog(p)
	default:
		return s.startCampaign(cmd, p)
	}
}

// checkToken returns the answer refusing tok, or nil when it is valid.
func (s *Server) checkToken(tok string) answer {
	switch expired, isSession := s.sessions[tok]; {
	case tok == "":
		return fail("EXCEPTION", "token is required")
	case tok == s.Token():
		return nil
	case isSession && expired:
		return fail("FORBIDDEN", "session is expired")
	case isSession:
		return nil
	case strings.Contains(tok, ":"):
		return fail("FORBIDDEN", "login failed: wrong system number or password")
	default:
		return fail("EXCEPTION", "session token is invalid")
	}
}
