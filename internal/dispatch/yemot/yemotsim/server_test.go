package yemotsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/clock"
)

// get sends GET <command>?<query> and decodes the JSON answer.
func get(t *testing.T, s *Server, command, query string) map[string]any {
	t.Helper()
	resp, err := http.Get(s.URL() + "/" + command + "?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	return out
}

func TestContract(t *testing.T) {
	s := New(Config{})
	t.Cleanup(s.Close)
	tok := "token=" + url.QueryEscape(s.Token())
	many := make([]string, 501)
	for i := range many {
		many[i] = "0522000000"
	}
	manyJSON, _ := json.Marshal(map[string]any{"token": s.Token(), "phones": many, "ivrPath": "ivr2:/1"})
	tests := []struct {
		name, method, command, contentType, body, query string
		wantCode                                        int
		wantStatus, wantMessage                         string
	}{
		{name: "json array", method: "POST", command: "CallExtensionBridging", contentType: "application/json",
			body:     `{"token":"` + s.Token() + `","phones":["0522000000",{"phone":"0522000001","callerId":"1"}],"ivrPath":"ivr2:/1"}`,
			wantCode: 200, wantStatus: "OK"},
		{name: "colon form in GET", method: "GET", command: "CallExtensionBridging",
			query:    tok + "&phones=0522000000:0522000001&ivrPath=ivr2:/1&callerId=0770000000&callsTimeOut=20",
			wantCode: 200, wantStatus: "OK"},
		{name: "501 numbers", method: "POST", command: "CallExtensionBridging", contentType: "application/json",
			body: string(manyJSON), wantCode: 200, wantStatus: "ERROR", wantMessage: "at most 500"},
		{name: "ring of 36s", method: "GET", command: "CallExtensionBridging",
			query:    tok + "&phones=0522000000&ivrPath=ivr2:/1&callsTimeOut=36",
			wantCode: 200, wantStatus: "ERROR", wantMessage: "at most 35"},
		{name: "no ivrPath", method: "GET", command: "CallExtensionBridging",
			query: tok + "&phones=0522000000", wantCode: 200, wantStatus: "ERROR", wantMessage: "ivrPath is required"},
		{name: "misspelt required parameter", method: "GET", command: "CallExtensionBridging",
			query: tok + "&phone=0522000000&ivrPath=ivr2:/1", wantCode: 200, wantStatus: "ERROR", wantMessage: "phones is required"},
		{name: "misspelt optional parameter (case)", method: "GET", command: "CallExtensionBridging",
			query:    tok + "&phones=0522000000&ivrPath=ivr2:/1&callsTimeout=20",
			wantCode: 200, wantStatus: "ERROR", wantMessage: "unknown parameter callsTimeout"},
		{name: "misspelt optional parameter in JSON", method: "POST", command: "CallExtensionBridging", contentType: "application/json",
			body:     `{"token":"` + s.Token() + `","phones":["0522000000"],"ivrPath":"ivr2:/1","callerID":"077"}`,
			wantCode: 200, wantStatus: "ERROR", wantMessage: "unknown parameter callerID"},
		{name: "unknown key in a phones object", method: "POST", command: "CallExtensionBridging", contentType: "application/json",
			body:     `{"token":"` + s.Token() + `","phones":[{"phone":"0522000000","callerID":"077"}],"ivrPath":"ivr2:/1"}`,
			wantCode: 200, wantStatus: "ERROR", wantMessage: "unknown parameter phones[].callerID"},
		{name: "callsTimeOut is not RunTzintuk's", method: "GET", command: "RunTzintuk",
			query: tok + "&phones=0522000000&callsTimeOut=5", wantCode: 200, wantStatus: "ERROR", wantMessage: "unknown parameter callsTimeOut"},
		{name: "tzintuk", method: "GET", command: "RunTzintuk",
			query: tok + "&phones=0522000000&TzintukTimeOut=5", wantCode: 200, wantStatus: "OK"},
		{name: "campaign status without campaignId", method: "GET", command: "GetCampaignStatus",
			query: tok + "&campaignid=x", wantCode: 200, wantStatus: "ERROR", wantMessage: "campaignId is required"},
		{name: "sms log without limit", method: "GET", command: "GetSmsIncomingLog",
			query: tok, wantCode: 200, wantStatus: "ERROR", wantMessage: "limit is required"},
		{name: "sms log, limit 0", method: "GET", command: "GetSmsIncomingLog",
			query: tok + "&limit=0", wantCode: 200, wantStatus: "ERROR", wantMessage: "limit must be a positive number"},
		{name: "sms log, unreadable date", method: "GET", command: "GetSmsIncomingLog",
			query: tok + "&limit=1&startDate=yesterday", wantCode: 200, wantStatus: "ERROR", wantMessage: "startDate"},
		{name: "sms log, misspelt date", method: "GET", command: "GetSmsIncomingLog",
			query: tok + "&limit=1&start_date=2024-07-30", wantCode: 200, wantStatus: "ERROR", wantMessage: "unknown parameter start_date"},
		{name: "no token", method: "GET", command: "RunTzintuk", query: "phones=0522000000", wantCode: 200, wantStatus: "EXCEPTION"},
		{name: "wrong password", method: "GET", command: "RunTzintuk", query: "token=0770000000:x&phones=0522000000",
			wantCode: 200, wantStatus: "FORBIDDEN"},
		{name: "login, misspelt", method: "GET", command: "Login", query: "user=0770000000&password=sim-password",
			wantCode: 200, wantStatus: "ERROR", wantMessage: "username is required"},
		{name: "unknown command", method: "GET", command: "Nope", wantCode: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, s.URL()+"/"+tt.command+"?"+tt.query, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d; want %d", resp.StatusCode, tt.wantCode)
			}
			if tt.wantStatus == "" {
				return
			}
			var out struct{ ResponseStatus, Message string }
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatal(err)
			}
			if out.ResponseStatus != tt.wantStatus || !strings.Contains(out.Message, tt.wantMessage) {
				t.Errorf("answer %+v; want %s containing %q", out, tt.wantStatus, tt.wantMessage)
			}
		})
	}
	cs := s.Campaigns()
	if len(cs) != 3 || cs[0].Form != "json" || cs[1].Form != "colon" || len(cs[1].Phones) != 2 || cs[2].Command != "RunTzintuk" {
		t.Errorf("campaigns %+v; want a json one and a colon one, 2 numbers each, and a tzintuk", cs)
	}
}

// TestCallsEnd: a campaign's calls ring until answered or their ring time
// is over, on the simulator's clock; a test may decide instead.
func TestCallsEnd(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := New(Config{Clock: fake})
	t.Cleanup(s.Close)
	s.WillAnswer("0522000001", 5*time.Second)
	s.WillAnswer("0522000003", 25*time.Second) // after the ring time: never
	tok := "token=" + url.QueryEscape(s.Token())
	id := get(t, s, "CallExtensionBridging", tok+"&phones=0522000000:0522000001:0522000002:0522000003&ivrPath=ivr2:/1&callsTimeOut=20")["campaignId"].(string)
	status := func() (string, map[string]string) {
		out := get(t, s, "GetCampaignStatus", tok+"&campaignId="+id)
		entries := map[string]string{}
		for _, e := range out["entries"].([]any) {
			e := e.(map[string]any)
			entries[e["phone"].(string)] = e["entryStatus"].(string)
		}
		return out["campaign"].(map[string]any)["campaignStatus"].(string), entries
	}
	steps := []struct {
		advance time.Duration
		set     func()
		want    string
		entries map[string]string
	}{
		{0, nil, "RUNNING", map[string]string{"0522000000": "dialing", "0522000001": "dialing", "0522000002": "dialing", "0522000003": "dialing"}},
		{5 * time.Second, func() { s.SetEntryStatus("0522000002", "busy") }, "RUNNING",
			map[string]string{"0522000000": "dialing", "0522000001": "bridged", "0522000002": "busy", "0522000003": "dialing"}},
		{15 * time.Second, nil, "FINISHED",
			map[string]string{"0522000000": "no_answer", "0522000001": "bridged", "0522000002": "busy", "0522000003": "no_answer"}},
	}
	for i, st := range steps {
		fake.Advance(st.advance)
		if st.set != nil {
			st.set()
		}
		got, entries := status()
		if got != st.want || len(entries) != len(st.entries) {
			t.Fatalf("step %d: %s %v; want %s %v", i, got, entries, st.want, st.entries)
		}
		for n, e := range st.entries {
			if entries[n] != e {
				t.Errorf("step %d: %s is %q; want %q", i, n, entries[n], e)
			}
		}
	}
	if err := s.SetCampaignStatus(id, "STOPPED"); err != nil {
		t.Fatal(err)
	}
	if got, _ := status(); got != "STOPPED" {
		t.Errorf("campaign status %s after SetCampaignStatus; want STOPPED", got)
	}
}

// TestRawAnswers: what something between the client and Yemot might send.
func TestRawAnswers(t *testing.T) {
	s := New(Config{})
	t.Cleanup(s.Close)
	s.RedirectNext(1, "/login")
	s.RespondNext(Response{Code: 200, Body: "<html>maintenance</html>"})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, want := range []struct {
		code int
		body string
	}{{302, "moved"}, {200, "maintenance"}} {
		resp, err := client.Get(s.URL() + "/RunTzintuk")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want.code || !strings.Contains(string(b), want.body) {
			t.Errorf("got %d %q; want %d with %q", resp.StatusCode, b, want.code, want.body)
		}
	}
	if n := len(s.Campaigns()); n != 0 {
		t.Errorf("%d campaigns run by raw answers", n)
	}
}

// TestSMSLog: GetSmsIncomingLog lists the newest limit messages, newest
// first, numbers as ints (or strings), server_date in Israel time.
func TestSMSLog(t *testing.T) {
	fake := clock.NewFake(time.Date(2024, 7, 30, 19, 40, 54, 0, time.UTC))
	s := New(Config{Clock: fake})
	t.Cleanup(s.Close)
	s.ReceiveSMS("+972 54-123-4567", "ack", time.Time{}) // 22:40:54 in Israel (summer, UTC+3)
	s.ReceiveSMS("0522345678", "שלום", fake.Now().Add(time.Minute))
	s.ReceiveSMSTo("+972501234567", "+14155550100", "older", fake.Now().Add(-24*time.Hour))
	tok := "token=" + url.QueryEscape(s.Token())

	out := get(t, s, "GetSmsIncomingLog", tok+"&limit=2")
	rows := out["rows"].([]any)
	if len(rows) != 2 {
		t.Fatalf("rows %v; want 2", rows)
	}
	first, second := rows[0].(map[string]any), rows[1].(map[string]any)
	if first["message"] != "שלום" || first["phone"] != 972522345678.0 || first["dest"] != 972770000000.0 {
		t.Errorf("newest row %v", first)
	}
	if second["server_date"] != "22:40:54 2024-07-30" || second["phone"] != 972541234567.0 {
		t.Errorf("second row %v; want server_date 22:40:54 2024-07-30", second)
	}

	out = get(t, s, "GetSmsIncomingLog", tok+"&limit=10&startDate=2024-07-29&endDate=2024-07-29")
	if rows := out["rows"].([]any); len(rows) != 1 || rows[0].(map[string]any)["message"] != "older" ||
		rows[0].(map[string]any)["dest"] != 972501234567.0 || rows[0].(map[string]any)["phone"] != 14155550100.0 {
		t.Errorf("rows of 2024-07-29: %v", rows)
	}
	s.NumbersAsStrings(true)
	out = get(t, s, "GetSmsIncomingLog", tok+"&limit=1")
	if row := out["rows"].([]any)[0].(map[string]any); row["phone"] != "972522345678" {
		t.Errorf("row %v; want the number as a string", row)
	}
}
