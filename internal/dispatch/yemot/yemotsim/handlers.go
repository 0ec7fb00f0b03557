package yemotsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// commands are the commands the simulator implements.
var commands = map[string]bool{
	"Login": true, "CallExtensionBridging": true, "RunTzintuk": true, "GetCampaignStatus": true,
}

// answer is a JSON answer object.
type answer map[string]any

func fail(status, msg string) answer { return answer{"responseStatus": status, "message": msg} }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	cmd, ok := strings.CutPrefix(r.URL.Path, "/ym/api/")
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Command: cmd, ContentType: r.Header.Get("Content-Type"), Query: r.URL.RawQuery, Body: body})
	stall := s.stallN > 0
	if stall {
		s.stallN--
	}
	code := 0
	if !stall && s.failN > 0 {
		s.failN--
		code = s.failCode
	}
	s.mu.Unlock()
	switch {
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
	case !ok || !commands[cmd]:
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
	if cmd == "Login" {
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
	switch cmd {
	case "GetCampaignStatus":
		return s.campaignStatus(p.str("campaignId"))
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

func (s *Server) startCampaign(cmd string, p params) answer {
	phones, form, err := p.phones()
	if err != nil {
		return fail("ERROR", err.Error())
	}
	if len(phones) == 0 {
		return fail("ERROR", "phones is required")
	}
	if len(phones) > 500 {
		return fail("ERROR", fmt.Sprintf("too many phones: %d, at most 500 per campaign", len(phones)))
	}
	timeout, err := p.num("callsTimeOut", 30)
	if err != nil {
		return fail("ERROR", err.Error())
	}
	if timeout < 1 || timeout > 35 {
		return fail("ERROR", fmt.Sprintf("callsTimeOut %d out of range: at most 35 seconds", timeout))
	}
	c := &Campaign{ID: s.newID(), Command: cmd, Form: form, IVRPath: p.str("ivrPath"), CallerID: p.str("callerId"),
		CallsTimeOut: timeout, Status: "RUNNING", Entries: map[string]string{}}
	if cmd == "CallExtensionBridging" && c.IVRPath == "" {
		return fail("ERROR", "ivrPath is required")
	}
	errs := map[string]string{}
	for _, n := range phones {
		if reason, ok := s.rejects[n]; ok {
			errs[n] = reason
		} else if !wellFormed(n) {
			errs[n] = "not Vaild"
		} else {
			c.Phones = append(c.Phones, n)
			c.Entries[n] = "dialing"
		}
	}
	s.campaigns = append(s.campaigns, c)
	callerID := c.CallerID
	if callerID == "" {
		callerID = s.cfg.System
	}
	var errors any = errs
	if len(errs) == 0 {
		errors = []string{} // PHP encodes an empty array as []
	}
	return answer{"responseStatus": "OK", "yAfastVersion": "sim", "module": "menu", "callerId": callerID,
		"callsCount": len(c.Phones), "bilingPerCall": 1, "errors": errors, "callsTimeout": timeout, "campaignId": c.ID}
}

func (s *Server) campaignStatus(id string) answer {
	for _, c := range s.campaigns {
		if c.ID != id {
			continue
		}
		entries := make([]answer, 0, len(c.Phones))
		for _, n := range c.Phones {
			entries = append(entries, answer{"phone": n, "entryStatus": c.Entries[n]})
		}
		return answer{"responseStatus": "OK", "campaign": answer{"campaignId": c.ID, "campaignStatus": c.Status}, "entries": entries}
	}
	return fail("ERROR", fmt.Sprintf("campaign %q not found", id))
}

// wellFormed accepts numbers of 7 to 15 digits, as dialled from Israel.
func wellFormed(n string) bool {
	if len(n) < 7 || len(n) > 15 {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
