package iotcallsim

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const code = "SiMcOdE=="

func TestContract(t *testing.T) {
	form := "application/x-www-form-urlencoded"
	one := "call_to_tels[0][tel]=08043391234&call_to_tels[0][group]=1&call_to_tels[0][check]=1&call_to_tels[0][international_prefix_id]=1"
	tests := []struct {
		name, method, path, ctype, auth, body string
		wantStatus                            int
		wantBody                              string
	}{
		{"put one number", "PUT", "/pattern/single/tel", form, code, one, 200, ""},
		{"charset parameter allowed", "PUT", "/pattern/single/tel", form + "; charset=utf-8", code, one, 200, ""},
		{"no auth", "PUT", "/pattern/single/tel", form, "", one, 401, "unauthorized"},
		{"auth with a scheme word", "PUT", "/pattern/single/tel", form, "Bearer " + code, one, 401, "unauthorized"},
		{"json body refused", "PUT", "/pattern/single/tel", "application/json", code, `{}`, 415, "content type"},
		{"missing field", "PUT", "/pattern/single/tel", form, code,
			"call_to_tels[0][tel]=08043391234&call_to_tels[0][group]=1&call_to_tels[0][check]=1", 400,
			"call_to_tels[0][international_prefix_id] is required"},
		{"gap in indices", "PUT", "/pattern/single/tel", form, code, strings.ReplaceAll(one, "[0]", "[1]"), 400,
			"call_to_tels[0] missing"},
		{"hyphens in tel", "PUT", "/pattern/single/tel", form, code, strings.Replace(one, "08043391234", "080-4339-1234", 1),
			400, "must be digits only"},
		{"check must be 0 or 1", "PUT", "/pattern/single/tel", form, code, strings.Replace(one, "[check]=1", "[check]=2", 1),
			400, "must be 0 or 1"},
		{"prefix id from 1", "PUT", "/pattern/single/tel", form, code,
			strings.Replace(one, "[international_prefix_id]=1", "[international_prefix_id]=0", 1), 400, "must be 1 or more"},
		{"unknown field", "PUT", "/pattern/single/tel", form, code, one + "&call_to_tels[0][name]=x", 400, "unknown field"},
		{"unknown rule", "POST", "/pattern/nope/call", "", code, "", 404, "rule not found"},
		{"wrong method", "GET", "/pattern/single/call", "", code, "", 405, "method not allowed"},
		{"unknown path", "POST", "/pattern/single/fire", "", code, "", 404, "not found"},
		{"broadcast with no numbers", "POST", "/pattern/multi/call", "", code, "", 400, "needs 2 or more numbers, has 0"},
		{"get list", "GET", "/pattern/single/tel", "", code, "", 200, `"call_to_tels":[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServer(code)
			defer srv.Close()
			srv.AddRule("single", Normal)
			srv.AddRule("multi", Broadcast)
			req, _ := http.NewRequestWithContext(context.Background(), tt.method, srv.URL()+tt.path, strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(b), tt.wantBody) {
				t.Fatalf("%s %s = %d %s, want %d containing %q", tt.method, tt.path, resp.StatusCode, b, tt.wantStatus, tt.wantBody)
			}
			if tt.wantStatus != 200 && len(srv.Tels("single")) != 0 {
				t.Error("a refused request changed the list")
			}
			for _, r := range srv.Requests() {
				if r.Header.Get("Authorization") != "" {
					t.Error("the Authorization header was recorded")
				}
			}
		})
	}
}

func TestCallRingsCheckedNumbersInOrder(t *testing.T) {
	s := New(code)
	s.AddRule("r", Rotation)
	s.mu.Lock()
	s.rules["r"].tels = []Entry{{"1", 1, 1, 1}, {"2", 2, 0, 1}, {"3", 3, 1, 1}}
	s.mu.Unlock()
	req := httptest.NewRequest(http.MethodPost, "/pattern/r/call", nil)
	req.Header.Set("Authorization", code)
	w := &recorder{header: http.Header{}}
	s.ServeHTTP(w, req)
	if w.status != 200 {
		t.Fatalf("call = %d", w.status)
	}
	if c := s.Calls(); len(c) != 1 || strings.Join(c[0].Tels, ",") != "1,3" {
		t.Fatalf("calls = %+v, want the checked numbers 1 and 3", c)
	}
}

type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(s int)           { r.status = s }
