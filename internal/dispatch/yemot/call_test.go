package yemot_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot/yemotsim"
	"github.com/escalator-oss/escalator/internal/provider"
)

func TestGoldenRequests(t *testing.T) {
	tests := []struct {
		name   string
		req    dispatch.Request
		golden []string // one file per request, in order
	}{
		{name: "broadcast", req: request(provider.Broadcast, people(2), via), golden: []string{"bridging_broadcast.json"}},
		{name: "single, no caller id, default ring", req: request(provider.Single, people(1), yemot.Settings{IVRPath: "ivr2:/5"}),
			golden: []string{"bridging_single.json"}},
		{name: "tzintuk first", req: request(provider.Broadcast, people(2), yemot.Settings{IVRPath: "ivr2:/1", Tzintuk: true}),
			golden: []string{"tzintuk.json", "bridging_after_tzintuk.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			if _, err := f.c.Call(context.Background(), tt.req); err != nil {
				t.Fatalf("Call: %v", err)
			}
			reqs := f.sim.Requests()
			if len(reqs) != len(tt.golden) {
				t.Fatalf("got %d requests, want %d", len(reqs), len(tt.golden))
			}
			for i, r := range reqs {
				if r.Method != "POST" || r.ContentType != "application/json" || r.Query != "" {
					t.Errorf("request %d: %s %s ?%s; want POST application/json, no query", i, r.Method, r.ContentType, r.Query)
				}
				golden(t, tt.golden[i], r.Body)
			}
		})
	}
}

func TestBroadcastSplitsAt500(t *testing.T) {
	f := newFixture(t, nil)
	res, err := f.c.Call(context.Background(), request(provider.Broadcast, people(501), via))
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	cs := f.sim.Campaigns()
	if len(cs) != 2 || len(cs[0].Phones) != 500 || len(cs[1].Phones) != 1 || cs[1].Phones[0] != national(500) {
		t.Fatalf("campaigns: %d; want 500 numbers then 1", len(cs))
	}
	if len(res.References) != 2 || res.References[0] != cs[0].ID || res.References[1] != cs[1].ID {
		t.Errorf("References = %v; want both campaign ids", res.References)
	}
	if len(res.Reached) != 501 || len(res.Failed) != 0 {
		t.Errorf("reached %d, failed %d; want 501, 0", len(res.Reached), len(res.Failed))
	}
}

func TestRejectedNumbersFail(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Reject(national(1), "")
	ps := append(people(3), provider.Person{Name: "bad", Phone: "+97212"})
	res, err := f.c.Call(context.Background(), request(provider.Broadcast, ps, via))
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	var failed []string
	for _, pf := range res.Failed {
		failed = append(failed, pf.Person.Name)
	}
	slices.Sort(failed)
	if !slices.Equal(failed, []string{"bad", "p1"}) {
		t.Errorf("Failed = %v; want bad (unparsable) and p1 (rejected)", res.Failed)
	}
	for _, pf := range res.Failed {
		if pf.Person.Name == "p1" && !strings.Contains(pf.Reason, "not Vaild") {
			t.Errorf("p1's reason %q does not keep Yemot's", pf.Reason)
		}
	}
	if len(res.Reached) != 2 {
		t.Errorf("Reached = %v; want p0 and p2", res.Reached)
	}

	// Everyone rejected: an error, so the fallback chain moves on.
	f.sim.Reject(national(0), "")
	if _, err := f.c.Call(context.Background(), request(provider.Single, people(1), via)); err == nil {
		t.Error("Call with every number rejected: want an error")
	}
}

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(*yemot.Config)
		setup     func(f fixture)
		ctx       time.Duration
		retryable bool
		contains  string
	}{
		{name: "wrong token", edit: func(c *yemot.Config) { c.Token = "0770000000:wrong" }, contains: "FORBIDDEN"},
		{name: "unknown session token", edit: func(c *yemot.Config) { c.Token = "abcdef" }, contains: "session token is invalid"},
		{name: "ERROR answer", setup: func(f fixture) { f.sim.AnswerNext(1, "ERROR", "no units left") }, contains: "ERROR: no units left"},
		{name: "503", setup: func(f fixture) { f.sim.FailNext(1, 503) }, retryable: true, contains: "503"},
		{name: "429", setup: func(f fixture) { f.sim.FailNext(1, 429) }, retryable: true, contains: "429"},
		{name: "timeout", setup: func(f fixture) { f.sim.StallNext(1) }, ctx: 50 * time.Millisecond, retryable: true},
		{name: "connection refused", setup: func(f fixture) { f.sim.Close() }, retryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.edit)
			if tt.setup != nil {
				tt.setup(f)
			}
			ctx := context.Background()
			if tt.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			_, err := f.c.Call(ctx, request(provider.Single, people(1), via))
			if err == nil {
				t.Fatal("Call: want an error")
			}
			if got, _ := dispatch.IsRetryable(err); got != tt.retryable {
				t.Errorf("IsRetryable(%v) = %v; want %v", err, got, tt.retryable)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
			var se *yemot.StatusError
			if tt.retryable && errors.As(err, &se) {
				t.Errorf("transient error is a StatusError: %v", err)
			}
		})
	}
}

func TestRingTooLong(t *testing.T) {
	f := newFixture(t, nil)
	v := via
	v.Ring = 36 * time.Second
	if _, err := f.c.Call(context.Background(), request(provider.Single, people(1), v)); err == nil {
		t.Fatal("Call with a 36s ring: want an error")
	}
	if n := len(f.sim.Requests()); n != 0 {
		t.Errorf("%d requests sent; want none", n)
	}
}

func TestTzintukFailureOnlyLogged(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AnswerNext(1, "ERROR", "tzintuk refused")
	v := via
	v.Tzintuk = true
	res, err := f.c.Call(context.Background(), request(provider.Broadcast, people(2), v))
	if err != nil || len(res.References) != 1 {
		t.Fatalf("Call = %+v, %v; want one campaign despite the failed tzintuk", res, err)
	}
	if f.logs.FilterMessageSnippet("tzintuk failed").Len() != 1 {
		t.Errorf("tzintuk failure not logged: %v", f.logs.All())
	}
}

// TestAttemptTimeout: a rotation's one Call sends each person's requests
// and waits for each call but the last to end (up to its ring time and the
// status's lag, 5s), so its attempt needs that much more than the base
// timeout.
func TestAttemptTimeout(t *testing.T) {
	c, err := yemot.New(yemot.Config{Token: "0770000000:pw"})
	if err != nil {
		t.Fatal(err)
	}
	three := people(3)
	ring20 := yemot.Settings{Ring: 20 * time.Second}
	for _, tc := range []struct {
		name string
		req  dispatch.Request
		want time.Duration
	}{
		{"rotation, ring set", request(provider.Rotation, three, ring20), 3*10*time.Second + 2*(20+5)*time.Second},
		{"rotation, default ring", request(provider.Rotation, three, yemot.Settings{}), 3*10*time.Second + 2*(30+5)*time.Second},
		{"rotation of one", request(provider.Rotation, three[:1], ring20), 10 * time.Second},
		{"broadcast", request(provider.Broadcast, three, ring20), 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.AttemptTimeout(10*time.Second, tc.req); got != tc.want {
				t.Errorf("AttemptTimeout = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestOnlyTheDocumentedAnswerCounts: a 2xx counts only with the documented
// body (a JSON object with responseStatus); a redirect is not followed.
// Anything else is a permanent error naming the provider and the status,
// and nobody counts as called.
func TestOnlyTheDocumentedAnswerCounts(t *testing.T) {
	tests := []struct {
		name   string
		answer func(s *yemotsim.Server)
		want   []string // in the error
	}{
		{name: "redirect to a login page", answer: func(s *yemotsim.Server) { s.RedirectNext(1, "/login") },
			want: []string{"yemot", "302 Found"}},
		{name: "maintenance page with 200", answer: func(s *yemotsim.Server) {
			s.RespondNext(yemotsim.Response{Code: 200, Body: "<html>maintenance</html>"})
		}, want: []string{"yemot CallExtensionBridging: 200 OK, but the body is not a JSON object: <html>maintenance</html>"}},
		{name: "empty 204", answer: func(s *yemotsim.Server) { s.RespondNext(yemotsim.Response{Code: 204}) },
			want: []string{"yemot CallExtensionBridging: 204 No Content, but the body is not a JSON object"}},
		{name: "a JSON array", answer: func(s *yemotsim.Server) { s.RespondNext(yemotsim.Response{Code: 200, Body: `[]`}) },
			want: []string{"yemot CallExtensionBridging: 200 OK, but the body is not a JSON object"}},
		{name: "JSON without responseStatus", answer: func(s *yemotsim.Server) {
			s.RespondNext(yemotsim.Response{Code: 200, Body: `{"campaignId":"YA-1","callsCount":1}`})
		}, want: []string{`yemot CallExtensionBridging: 200 OK, but the body has no responseStatus: {"campaignId":"YA-1","callsCount":1}`}},
		{name: "OK, but no call in the campaign", answer: func(s *yemotsim.Server) {
			s.RespondNext(yemotsim.Response{Code: 200, Body: `{"responseStatus":"OK","callsCount":"0","errors":[],"campaignId":"YA-2"}`})
		}, want: []string{"nobody was dialled: p0: yemot did not dial 0522000000: campaign YA-2 counts no call"}},
	}
	t.Run("OK, callsCount unreadable: the campaign ran", func(t *testing.T) {
		f := newFixture(t, nil)
		f.sim.RespondNext(yemotsim.Response{Code: 200, Body: `{"responseStatus":"OK","callsCount":"one","errors":[],"campaignId":"YA-3"}`})
		res, err := f.c.Call(context.Background(), request(provider.Single, people(1), via))
		if err != nil || len(res.Reached) != 1 || res.References[0] != "YA-3" {
			t.Errorf("Call = %+v, %v; want p0 reached in YA-3", res, err)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			tt.answer(f.sim)
			res, err := f.c.Call(context.Background(), request(provider.Single, people(1), via))
			if err == nil {
				t.Fatalf("Call = %+v; want an error", res)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if retry, _ := dispatch.IsRetryable(err); retry {
				t.Errorf("error %v is retryable; want permanent", err)
			}
			if len(res.Reached) != 0 {
				t.Errorf("Reached = %v; want nobody", res.Reached)
			}
			if n := len(f.sim.Requests()); n != 1 {
				t.Errorf("%d requests; want 1 (no redirect followed)", n)
			}
		})
	}
}

// TestBroadcastTzintukRightBeforeItsCampaign: each campaign's tzintuk goes
// right before it, not all of them first.
func TestBroadcastTzintukRightBeforeItsCampaign(t *testing.T) {
	f := newFixture(t, nil)
	v := via
	v.Tzintuk = true
	if _, err := f.c.Call(context.Background(), request(provider.Broadcast, people(501), v)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range f.sim.Campaigns() {
		got = append(got, fmt.Sprintf("%s of %d", c.Command, len(c.Phones)))
	}
	want := []string{"RunTzintuk of 500", "CallExtensionBridging of 500", "RunTzintuk of 1", "CallExtensionBridging of 1"}
	if !slices.Equal(got, want) {
		t.Errorf("campaigns %v; want %v", got, want)
	}
}

// TestUnkeptOptionsAreSaid: a request that still asks what Yemot cannot do
// (a policy snapshot from before policy check refused it) is called, and
// the result says what was not honoured.
func TestUnkeptOptionsAreSaid(t *testing.T) {
	f := newFixture(t, nil)
	req := request(provider.Broadcast, people(2), via)
	req.StopOnAnswer = true
	res, err := f.c.Call(context.Background(), req)
	if err != nil || len(res.Reached) != 2 {
		t.Fatalf("Call = %+v, %v; want both called", res, err)
	}
	if !strings.Contains(res.Detail, "stop_on_answer not honoured: yemot cannot stop other phones ringing when one answers") {
		t.Errorf("Detail %q does not say stop_on_answer was not honoured", res.Detail)
	}
	if f.logs.FilterMessageSnippet("stop_on_answer not honoured").Len() != 1 {
		t.Errorf("not logged: %v", f.logs.All())
	}
}
