package iotcall_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall/iotcallsim"
	"github.com/escalator-oss/escalator/internal/provider"
)

// TestRuleNeverFiredWithTheWrongCount: a broadcast or rotation rule left
// with one number at call time (a per-person cap, a fallback remainder), or
// a single rule given two, is neither changed nor fired; the people go on
// to the next provider with the reason.
func TestRuleNeverFiredWithTheWrongCount(t *testing.T) {
	tests := []struct {
		name     string
		strategy provider.Strategy
		people   []provider.Person
		want     string
	}{
		{"broadcast with one", provider.Broadcast, []provider.Person{alice},
			"an IoTCall broadcast rule needs two or more numbers, but 1 number is left at call time: rule r1 not fired"},
		{"rotation with one", provider.Rotation, []provider.Person{bob},
			"an IoTCall rotation rule needs two or more numbers, but 1 number is left at call time: rule r1 not fired"},
		{"single with two", provider.Single, []provider.Person{alice, bob},
			"an IoTCall single rule needs exactly one number, but 2 numbers are left at call time: rule r1 not fired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := iotcallsim.NewServer(authCode)
			defer sim.Close()
			sim.AddRule("r1", iotcallsim.Broadcast)
			req := request("r1", tt.people...)
			req.Strategy = tt.strategy
			res, err := newClient(t, sim.URL(), nil).Call(context.Background(), req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Call error %v, want %q", err, tt.want)
			}
			if len(res.Reached) != 0 || len(res.Failed) != len(tt.people) || res.Failed[0].Reason != tt.want {
				t.Errorf("result %+v: want everyone failed with the reason", res)
			}
			if reqs := sim.Requests(); len(reqs) != 0 {
				t.Errorf("IoTCall got %d requests (%s %s ...): the rule was touched", len(reqs), reqs[0].Method, reqs[0].Path)
			}
		})
	}

	// Through the dispatcher: the one person left goes to the next provider,
	// and the dispatch_failed report says why.
	sim := iotcallsim.NewServer(authCode)
	defer sim.Close()
	sim.AddRule("r1", iotcallsim.Broadcast)
	backup := &accepting{}
	d, err := dispatch.New(dispatch.Config{Providers: map[string]dispatch.Provider{
		iotcall.Name: newClient(t, sim.URL(), nil), "backup": backup}})
	if err != nil {
		t.Fatal(err)
	}
	var failed []dispatch.Report
	out := d.Dispatch(context.Background(), dispatch.Request{Strategy: provider.Broadcast, People: []provider.Person{alice}},
		[]provider.Via{{Provider: iotcall.Name, Settings: iotcall.Settings{Rule: "r1"}}, {Provider: "backup"}},
		time.Minute, func(r dispatch.Report) {
			if r.Kind == dispatch.ReportDispatchFailed {
				failed = append(failed, r)
			}
		})
	if out.ReachedBy(alice.Phone) != "backup" || len(sim.Calls()) != 0 {
		t.Errorf("alice reached by %q; IoTCall calls %d", out.ReachedBy(alice.Phone), len(sim.Calls()))
	}
	if len(failed) != 1 || !strings.Contains(failed[0].Err, "needs two or more numbers") {
		t.Errorf("dispatch_failed reports %+v: want the reason", failed)
	}
}

// accepting is a provider of the chain that calls everyone it is given.
type accepting struct{}

func (*accepting) Name() string { return "backup" }

func (*accepting) Call(_ context.Context, req dispatch.Request) (dispatch.Result, error) {
	return dispatch.Result{Provider: "backup", Reached: req.People}, nil
}

// TestOnlyTheAPIsAnswerCounts: a redirect (to a login page) and a web page
// served with 200 are failures that name IoTCall and the status, never
// "rule fired".
func TestOnlyTheAPIsAnswerCounts(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"redirect to a login page", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/login", http.StatusFound)
		}, "iotcall: 302 Found"},
		{"a web page with 200", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte("<!DOCTYPE html><html><body>Please log in</body></html>"))
		}, "iotcall: 200 OK: the answer is a web page"},
		{"a web page without its type", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("  <html><body>maintenance</body></html>"))
		}, "iotcall: 200 OK: the answer is a web page"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			res, err := newClient(t, srv.URL, nil).Call(context.Background(), request("r1", alice, bob))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Call = %+v, %v; want an error with %q", res, err, tt.want)
			}
			if ok, _ := dispatch.IsRetryable(err); ok {
				t.Errorf("%v is retryable: the request may have reached IoTCall", err)
			}
		})
	}
}
