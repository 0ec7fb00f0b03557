package ccaisim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/clock"
)

func TestMessages(t *testing.T) {
	s := New(Config{Key: "k", Secret: "s", RatePerSecond: 1000})
	t.Cleanup(s.Close)
	s.SetAgent("ann@x.com", Available)
	s.SetAgent("busy@x.com", Unavailable)
	s.SetMenu(9, "ivr_menu", MenuOpen)
	s.SetMenu(50, "web_menu", MenuOpen)
	tests := []struct {
		name, path, body, contentType, user string
		wantCode                            int
		wantMessage                         string
	}{
		{name: "created", body: `{"call_type":"Voice Outbound (API)","agent_email":"ann@x.com","end_user_number":"+1 859-657-9625","x":1}`, wantCode: 201},
		{name: "no basic auth", user: "-", body: `{}`, wantCode: 401},
		{name: "unknown path", path: "/apps/api/v2/calls", wantCode: 404},
		{name: "form body", contentType: "application/x-www-form-urlencoded", body: "call_type=x", wantCode: 400, wantMessage: "Invalid call type"},
		{name: "bad call type", body: `{"call_type":"Call"}`, wantCode: 400, wantMessage: "Invalid call type"},
		{name: "no agent", body: `{"call_type":"Voice Outbound (API)","end_user_number":"+18596579625"}`, wantCode: 400, wantMessage: "Agent email required"},
		{name: "unknown agent", body: `{"call_type":"Voice Outbound (API)","agent_email":"x@x.com","end_user_number":"+18596579625"}`, wantCode: 400, wantMessage: "Not a valid agent email"},
		{name: "no number", body: `{"call_type":"Voice Outbound (API)","agent_email":"ann@x.com"}`, wantCode: 400, wantMessage: "ticket_id or end_user_number required"},
		{name: "bad number", body: `{"call_type":"Voice Outbound (API)","agent_email":"ann@x.com","end_user_number":"123123"}`, wantCode: 400, wantMessage: "end_user_number is not well-formed"},
		{name: "busy agent", body: `{"call_type":"Voice Outbound (API)","agent_email":"busy@x.com","end_user_number":"+18596579625"}`, wantCode: 400, wantMessage: "Agent is not available to take this call"},
		{name: "inbound", body: `{"call_type":"Voice Inbound (API)","menu_id":9,"end_user_number":"+18596579625"}`, wantCode: 201},
		{name: "inbound no menu", body: `{"call_type":"Voice Inbound (API)","end_user_number":"+18596579625"}`, wantCode: 400, wantMessage: "menu_id is required"},
		{name: "inbound menu string", body: `{"call_type":"Voice Inbound (API)","menu_id":"menu_999","end_user_number":"+18596579625"}`, wantCode: 400, wantMessage: "menu_id is not well formed"},
		{name: "inbound unknown menu", body: `{"call_type":"Voice Inbound (API)","menu_id":9999,"end_user_number":"+18596579625"}`, wantCode: 400, wantMessage: "menu_id 9999 is not found"},
		{name: "inbound web menu", body: `{"call_type":"Voice Inbound (API)","menu_id":50,"end_user_number":"+18596579625"}`, wantCode: 400, wantMessage: "Only IVR and mobile menu IDs are permitted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "/apps/api/v1/calls"
			}
			req, _ := http.NewRequest("POST", s.URL()+path, strings.NewReader(tt.body))
			if tt.user != "-" {
				req.SetBasicAuth("k", "s")
			}
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct{ Message string }
			_ = json.NewDecoder(resp.Body).Decode(&out)
			if resp.StatusCode != tt.wantCode || out.Message != tt.wantMessage && tt.wantMessage != "" {
				t.Errorf("%d %q; want %d %q", resp.StatusCode, out.Message, tt.wantCode, tt.wantMessage)
			}
		})
	}
	if n := len(s.Calls()); n != 2 {
		t.Errorf("%d calls recorded; want 2", n)
	}
}

// post creates an outbound call for agent and returns the status and the
// message or id.
func post(t *testing.T, s *Server, agent string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL()+"/apps/api/v1/calls",
		strings.NewReader(`{"call_type":"Voice Outbound (API)","agent_email":"`+agent+`","end_user_number":"+18596579625"}`))
	req.SetBasicAuth("k", "s")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ID      int
		Message string
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if out.Message != "" {
		return resp.StatusCode, out.Message
	}
	return resp.StatusCode, strconv.Itoa(out.ID)
}

// TestAgentBusyWhileTheCallLasts: an agent takes one call at a time; the
// documented 400 answers another until the call ends, whichever way.
func TestAgentBusyWhileTheCallLasts(t *testing.T) {
	const busy = "Agent is not available to take this call"
	tests := []struct {
		name string
		end  func(s *Server, clk *clock.Fake, id int) error
		want string // the call's status once ended
	}{
		{name: "unanswered, ended by the test", want: "failed eu_busy",
			end: func(s *Server, _ *clock.Fake, id int) error { return s.EndCall(id, "eu_busy") }},
		{name: "answered, then finished", want: "finished ",
			end: func(s *Server, _ *clock.Fake, id int) error {
				if err := s.AnswerCall(id); err != nil {
					return err
				}
				if code, msg := post(t, s, "ann@x.com"); code != 400 || msg != busy {
					t.Errorf("during the conversation: %d %q; want 400 %q", code, msg, busy)
				}
				return s.EndCall(id, "")
			}},
		{name: "nobody answers: ends by itself on the clock", want: "failed eu_no_answer",
			end: func(s *Server, clk *clock.Fake, id int) error {
				clk.Advance(DefaultNoAnswerAfter / 4)
				if c := s.Calls()[0]; c.Status != "connecting" {
					t.Errorf("a quarter of the ring later: %s; want connecting", c.Status)
				}
				clk.Advance(DefaultNoAnswerAfter)
				return nil
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			s := New(Config{Key: "k", Secret: "s", RatePerSecond: 1000, Clock: clk})
			t.Cleanup(s.Close)
			s.SetAgent("ann@x.com", Available)
			s.SetAgent("bob@x.com", Available)
			code, id := post(t, s, "ann@x.com")
			if code != 201 {
				t.Fatalf("first call: %d %s", code, id)
			}
			if code, msg := post(t, s, "ann@x.com"); code != 400 || msg != busy {
				t.Errorf("second call for ann: %d %q; want 400 %q", code, msg, busy)
			}
			if code, _ := post(t, s, "bob@x.com"); code != 201 {
				t.Errorf("a call for bob: %d; want 201 (another agent)", code)
			}
			n, _ := strconv.Atoi(id)
			if err := tt.end(s, clk, n); err != nil {
				t.Fatal(err)
			}
			if c := s.Calls()[0]; c.Status+" "+c.FailReason != tt.want {
				t.Errorf("call %d: %s %s; want %s", n, c.Status, c.FailReason, tt.want)
			}
			if code, _ := post(t, s, "ann@x.com"); code != 201 {
				t.Errorf("once the call ended: %d; want 201", code)
			}
			var statuses []string
			for _, e := range s.History() {
				if e.Call == n {
					statuses = append(statuses, e.Status)
				}
			}
			if statuses[0] != "assigned" || len(statuses) < 2 {
				t.Errorf("history of call %d: %v; want assigned first, then its end", n, statuses)
			}
		})
	}
}

// TestListShowsStatuses: the Manager API's list shows each call's status as
// it is now.
func TestListShowsStatuses(t *testing.T) {
	s := New(Config{Key: "k", Secret: "s", RatePerSecond: 1000, NoAnswerAfter: -1})
	t.Cleanup(s.Close)
	s.SetAgent("ann@x.com", Available)
	_, id := post(t, s, "ann@x.com")
	n, _ := strconv.Atoi(id)
	list := func() string {
		req, _ := http.NewRequest("GET", s.URL()+"/manager/api/v1/calls", nil)
		req.SetBasicAuth("k", "s")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var calls []struct {
			Status     string `json:"status"`
			FailReason string `json:"fail_reason"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&calls); err != nil || len(calls) != 1 {
			t.Fatalf("list: %v, %v", calls, err)
		}
		return calls[0].Status + " " + calls[0].FailReason
	}
	if got := list(); got != "assigned nothing" {
		t.Errorf("created: %q", got)
	}
	if err := s.EndCall(n, "eu_rejected"); err != nil {
		t.Fatal(err)
	}
	if got := list(); got != "failed eu_rejected" {
		t.Errorf("ended: %q", got)
	}
}

// TestCannedAnswers: a redirect to a sign-in page, and a 2xx that is not
// the API's, for the client's tests.
func TestCannedAnswers(t *testing.T) {
	s := New(Config{Key: "k", Secret: "s", RatePerSecond: 1000})
	t.Cleanup(s.Close)
	s.SetAgent("ann@x.com", Available)
	s.RedirectNext(1, "/login")
	s.AnswerNext(1, 200, "text/html", "<html>maintenance</html>")
	if code, _ := post(t, s, "ann@x.com"); code != 200 {
		t.Errorf("after a followed redirect: %d; want the sign-in page's 200", code)
	}
	if code, _ := post(t, s, "ann@x.com"); code != 200 {
		t.Errorf("canned: %d; want 200", code)
	}
	if code, _ := post(t, s, "ann@x.com"); code != 201 {
		t.Errorf("then: %d; want 201", code)
	}
	if n := len(s.Calls()); n != 1 {
		t.Errorf("%d calls created; want 1", n)
	}
}
