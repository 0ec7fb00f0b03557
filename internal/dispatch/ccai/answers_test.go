package ccai_test

import (
	"context"
	"strings"
	"testing"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/ccai"
	"github.com/escalator-oss/escalator/internal/dispatch/ccai/ccaisim"
	"github.com/escalator-oss/escalator/internal/provider"
)

// TestOnlyTheDocumentedAnswerCounts: a call is placed only on a 201 with
// the call object and its id (or pending on a 202). Before, any 2xx counted,
// whatever its body: a sign-in page behind a redirect, a maintenance page, a
// 201 without an id. Such an answer is a permanent error naming the
// provider and the status (the call may exist: it is not tried again).
func TestOnlyTheDocumentedAnswerCounts(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*ccaisim.Server)
		want  string
	}{
		{name: "redirect to a sign-in page", setup: func(s *ccaisim.Server) { s.RedirectNext(1, "/login") },
			want: "ccai: 302 Found"},
		{name: "200 with HTML", setup: func(s *ccaisim.Server) { s.AnswerNext(1, 200, "text/html", "<html>maintenance</html>") },
			want: "ccai answered 200 OK: not a documented status (201: call created; 202: the agent must act in their widget): <html>maintenance</html>"},
		{name: "200 with a call object", setup: func(s *ccaisim.Server) {
			s.AnswerNext(1, 200, "application/json", `{"id": 397, "status": "assigned"}`)
		}, want: "ccai answered 200 OK: not a documented status"},
		{name: "201, not JSON", setup: func(s *ccaisim.Server) { s.AnswerNext(1, 201, "text/plain", "created") },
			want: "ccai answered 201 Created: not the documented call object: created"},
		{name: "201, a JSON array", setup: func(s *ccaisim.Server) { s.AnswerNext(1, 201, "application/json", `[{"id": 397}]`) },
			want: "ccai answered 201 Created: not the documented call object"},
		{name: "201 without an id", setup: func(s *ccaisim.Server) {
			s.AnswerNext(1, 201, "application/json", `{"status": "assigned"}`)
		}, want: `ccai answered 201 Created: a call object without an id: {"status": "assigned"}`},
		{name: "201 with a null id", setup: func(s *ccaisim.Server) { s.AnswerNext(1, 201, "application/json", `{"id": null}`) },
			want: "a call object without an id"},
		{name: "204", setup: func(s *ccaisim.Server) { s.AnswerNext(1, 204, "", "") },
			want: "ccai answered 204 No Content: not a documented status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			tt.setup(f.sim)
			res, err := f.c.Call(context.Background(), request(provider.Single, twoAgents, carol))
			if err == nil {
				t.Fatalf("Call = %+v; want an error", res)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\ndoes not say %q", err, tt.want)
			}
			if retry, _ := dispatch.IsRetryable(err); retry {
				t.Errorf("error %v is retryable; want permanent", err)
			}
			if len(res.Reached) != 0 {
				t.Errorf("reached %v", res.Reached)
			}
			for _, r := range f.sim.Requests() {
				if r.Path == "/login" {
					t.Error("the client followed the redirect to the sign-in page")
				}
			}
		})
	}
	t.Run("202 is pending, whatever its body", func(t *testing.T) {
		f := newFixture(t, nil)
		f.sim.AnswerNext(1, 202, "", "")
		res, err := f.c.Call(context.Background(), request(provider.Single, twoAgents, carol))
		if err != nil || !res.Pending || len(res.Reached) != 1 || len(res.References) != 0 {
			t.Errorf("Call = %+v, %v; want carol reached, pending, no reference", res, err)
		}
	})
	t.Run("a call list that is not one", func(t *testing.T) {
		f := newFixture(t, func(c *ccai.Config) { c.CheckAnswered = true })
		res, err := f.c.Call(context.Background(), request(provider.Single, twoAgents, carol))
		if err != nil {
			t.Fatal(err)
		}
		f.sim.AnswerNext(1, 200, "text/html", "<html>sign in</html>")
		_, _, _, err = f.c.Provider().(dispatch.AnswerChecker).Answered(context.Background(), res)
		if err == nil || !strings.Contains(err.Error(), "ccai answered 200 OK: not the documented call list") {
			t.Errorf("Answered: %v; want an error naming ccai and the status", err)
		}
	})
}

// TestPromisesNotKept: stop_on_answer and pass_on cannot be honoured on
// CCAI Platform, and a rotation cannot without answered detection; a
// request asking for them (policy check refuses such steps) is refused
// before anyone is called, so the next provider takes the step. Before,
// the options were silently ignored.
func TestPromisesNotKept(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*dispatch.Request)
		check bool
		want  string
	}{
		{name: "stop_on_answer", check: true, edit: func(r *dispatch.Request) { r.Strategy, r.StopOnAnswer = provider.Broadcast, true },
			want: "call through ccai: cannot stop the other calls when one is answered (stop_on_answer): CCAI Platform's API has no way to end a call"},
		{name: "pass_on", check: true, edit: func(r *dispatch.Request) { r.Strategy, r.PassOn = provider.Rotation, true },
			want: "call through ccai: cannot let the person who answers pass the call on (pass_on): CCAI Platform's API has no such option"},
		{name: "rotation without answered detection", edit: func(r *dispatch.Request) { r.Strategy = provider.Rotation },
			want: "call through ccai: a rotation needs answered detection (CCAI_CHECK_ANSWERED=true) to know when each call has ended and to stop when someone answers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *ccai.Config) { c.CheckAnswered = tt.check })
			req := request(provider.Broadcast, twoAgents, carol, dave)
			tt.edit(&req)
			_, err := f.c.Call(context.Background(), req)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Call: %v\nwant %s", err, tt.want)
			}
			if n := len(f.sim.Requests()); n != 0 {
				t.Errorf("%d requests sent; want none", n)
			}
		})
	}
}
