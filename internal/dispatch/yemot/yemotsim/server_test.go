package yemotsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestContract(t *testing.T) {
	s := New(Config{})
	t.Cleanup(s.Close)
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
			query:    "token=" + url.QueryEscape(s.Token()) + "&phones=0522000000:0522000001&ivrPath=ivr2:/1",
			wantCode: 200, wantStatus: "OK"},
		{name: "501 numbers", method: "POST", command: "CallExtensionBridging", contentType: "application/json",
			body: string(manyJSON), wantCode: 200, wantStatus: "ERROR", wantMessage: "at most 500"},
		{name: "ring of 36s", method: "GET", command: "CallExtensionBridging",
			query:    "token=" + url.QueryEscape(s.Token()) + "&phones=0522000000&ivrPath=ivr2:/1&callsTimeOut=36",
			wantCode: 200, wantStatus: "ERROR", wantMessage: "at most 35"},
		{name: "no ivrPath", method: "GET", command: "CallExtensionBridging",
			query: "token=" + url.QueryEscape(s.Token()) + "&phones=0522000000", wantCode: 200, wantStatus: "ERROR"},
		{name: "no token", method: "GET", command: "RunTzintuk", query: "phones=0522000000", wantCode: 200, wantStatus: "EXCEPTION"},
		{name: "wrong password", method: "GET", command: "RunTzintuk", query: "token=0770000000:x&phones=0522000000",
			wantCode: 200, wantStatus: "FORBIDDEN"},
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
	if len(cs) != 2 || cs[0].Form != "json" || cs[1].Form != "colon" || len(cs[1].Phones) != 2 {
		t.Errorf("campaigns %+v; want a json one and a colon one, 2 numbers each", cs)
	}
}
