package ccaisim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
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
