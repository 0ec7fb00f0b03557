package ccai_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/ccai"
	"github.com/escalator-oss/escalator/internal/dispatch/ccai/ccaisim"
	"github.com/escalator-oss/escalator/internal/provider"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// rotationRig is a rotation under test: the client on a fake clock with
// answered detection on, the simulator holding every call until the test
// ends it, Call running in the background.
type rotationRig struct {
	fixture
	clk     *clock.Fake
	stopped atomic.Bool // what req.Stopped reports
	done    chan struct{}
	res     dispatch.Result
	err     error
}

func startRotation(t *testing.T, via ccai.Settings, people ...provider.Person) *rotationRig {
	t.Helper()
	clk := clock.NewFake(t0)
	r := &rotationRig{clk: clk, done: make(chan struct{})}
	r.fixture = newFixtureWith(t, func(c *ccaisim.Config) { c.NoAnswerAfter = -1 },
		func(c *ccai.Config) { c.CheckAnswered, c.Clock = true, clk })
	req := request(provider.Rotation, via, people...)
	req.Stopped = r.stopped.Load
	go func() {
		defer close(r.done)
		r.res, r.err = r.c.Call(context.Background(), req)
	}()
	return r
}

// waiting returns once the rotation waits on the clock (a turn, or a busy
// agent), failing the test if Call returned instead.
func (r *rotationRig) waiting(t *testing.T) {
	t.Helper()
	ch := make(chan struct{})
	go func() { r.clk.WaitForWaiters(1); close(ch) }()
	select {
	case <-ch:
	case <-r.done:
		t.Fatalf("Call returned %+v, %v; want it waiting on the clock", r.res, r.err)
	case <-time.After(time.Minute):
		t.Fatal("the rotation never waited on the clock")
	}
}

// advance lets the rotation's present wait end, d later.
func (r *rotationRig) advance(t *testing.T, d time.Duration) {
	t.Helper()
	r.waiting(t)
	r.clk.Advance(d)
}

func (r *rotationRig) result(t *testing.T) (dispatch.Result, error) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(time.Minute):
		t.Fatal("Call did not return")
	}
	return r.res, r.err
}

// end ends call id as the test says, failing it on error.
func end(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// names lists people, or people with their reasons.
func names(ps []provider.Person) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func reasons(us []provider.Unreached) []string {
	out := []string{}
	for _, u := range us {
		out = append(out, u.Person.Name+": "+u.Reason)
	}
	return out
}

// course is the simulator's history as "created <who>" and "<status>
// <who>" lines, who being the call's agent or menu and its order.
func course(sim *ccaisim.Server) []string {
	var out []string
	for _, e := range sim.History() {
		who := e.Agent
		if who == "" {
			who = "menu"
		}
		what := e.Status
		if e.Status == "assigned" || e.Status == "queued" {
			what = "created"
		}
		out = append(out, fmt.Sprintf("%s %d %s", what, e.Call-396, strings.TrimSuffix(who, "@example.com")))
	}
	return out
}

var (
	ann     = ccai.Settings{Agents: []string{"ann@example.com"}}
	annMenu = ccai.Settings{Agents: []string{"ann@example.com"}, MenuID: 9}
	erin    = provider.Person{Name: "erin", Phone: "+14155552672"}
)

// TestRotationThroughOneAgent: the issue's "a CCAI rotation of two people
// through one agent calls both, one after the other" — the next person's
// call is created only once the previous one ended unanswered (the agent
// free again) — and stops when someone answers or the escalation ends,
// the rest NotCalled with why. Before, the client created the calls back
// to back: the agent, busy with the first, refused the second (400 "Agent
// is not available"), and with no menu_id the second person was never
// called.
func TestRotationThroughOneAgent(t *testing.T) {
	const (
		answered = "the rotation stopped: carol answered"
		acked    = "the rotation stopped: the escalation was acknowledged or resolved"
	)
	tests := []struct {
		name    string
		via     ccai.Settings
		people  []provider.Person
		drive   func(t *testing.T, r *rotationRig)
		reached []string
		notCall []string
		failed  []string
		course  []string
	}{
		{
			name: "carol does not answer: dave is called once her call ended",
			via:  ann, people: []provider.Person{carol, dave},
			drive: func(t *testing.T, r *rotationRig) {
				r.waiting(t)
				end(t, r.sim.EndCall(397, "eu_no_answer"))
				r.clk.Advance(2 * time.Second)
			},
			reached: []string{"carol", "dave"},
			course:  []string{"created 1 ann", "failed 1 ann", "created 2 ann"},
		},
		{
			name: "carol answers: dave is not called",
			via:  ann, people: []provider.Person{carol, dave},
			drive: func(t *testing.T, r *rotationRig) {
				r.waiting(t)
				end(t, r.sim.AnswerCall(397))
				r.clk.Advance(2 * time.Second)
			},
			reached: []string{"carol"}, notCall: []string{"dave: " + answered},
			course: []string{"created 1 ann", "connected 1 ann"},
		},
		{
			name: "acknowledged during carol's turn: the rest are not called",
			via:  ann, people: []provider.Person{carol, dave, erin},
			drive: func(t *testing.T, r *rotationRig) {
				r.waiting(t)
				r.stopped.Store(true)
				r.clk.Advance(2 * time.Second)
			},
			reached: []string{"carol"}, notCall: []string{"dave: " + acked, "erin: " + acked},
			course: []string{"created 1 ann"},
		},
		{
			name: "carol's phone rings past her turn: the agent is waited for",
			via:  ccai.Settings{Agents: []string{"ann@example.com"}, Ring: 30 * time.Second}, people: []provider.Person{carol, dave},
			drive: func(t *testing.T, r *rotationRig) {
				r.advance(t, 30*time.Second) // her turn is over; ann is still on her call
				r.waiting(t)                 // ann answered 400 "not available": waiting for her
				if n := len(r.sim.Calls()); n != 1 {
					t.Fatalf("%d calls while ann is busy; want 1", n)
				}
				end(t, r.sim.EndCall(397, "eu_no_answer"))
				r.clk.Advance(time.Second)
			},
			reached: []string{"carol", "dave"},
			course:  []string{"created 1 ann", "failed 1 ann", "created 2 ann"},
		},
		{
			name: "carol answers after her turn: dave is not called",
			via:  ann, people: []provider.Person{carol, dave},
			drive: func(t *testing.T, r *rotationRig) {
				r.advance(t, time.Minute)
				r.waiting(t)
				end(t, r.sim.AnswerCall(397))
				r.clk.Advance(time.Second)
			},
			reached: []string{"carol"}, notCall: []string{"dave: " + answered},
			course: []string{"created 1 ann", "connected 1 ann"},
		},
		{
			name: "the agent stays busy: the menu takes dave",
			via:  annMenu, people: []provider.Person{carol, dave},
			drive: func(t *testing.T, r *rotationRig) {
				r.advance(t, time.Minute) // carol's turn
				r.advance(t, time.Minute) // waiting for ann
			},
			reached: []string{"carol", "dave"},
			course:  []string{"created 1 ann", "created 2 menu"},
		},
		{
			name: "the agent stays busy and there is no menu: dave is failed, with why",
			via:  ann, people: []provider.Person{carol, dave},
			drive: func(t *testing.T, r *rotationRig) {
				r.advance(t, time.Minute)
				r.advance(t, time.Minute)
			},
			reached: []string{"carol"},
			failed: []string{"dave: no agent took the call (ann@example.com: still on this rotation's call to carol after 1m) " +
				"and the step has no menu_id"},
			course: []string{"created 1 ann"},
		},
		{
			name: "a bad number is skipped at once",
			via:  ann, people: []provider.Person{carol, {Name: "eve", Phone: "+1205"}, dave},
			drive: func(t *testing.T, r *rotationRig) {
				r.waiting(t)
				end(t, r.sim.EndCall(397, "eu_busy"))
				r.clk.Advance(2 * time.Second)
			},
			reached: []string{"carol", "dave"},
			failed:  []string{"eve: " + badNumber(t, "+1205")},
			course:  []string{"created 1 ann", "failed 1 ann", "created 2 ann"},
		},
		{
			name: "turn over and ann still busy: bob, free, calls dave",
			via:  twoAgents, people: []provider.Person{carol, dave},
			drive: func(t *testing.T, r *rotationRig) {
				r.advance(t, time.Minute)
			},
			reached: []string{"carol", "dave"},
			course:  []string{"created 1 ann", "created 2 bob"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startRotation(t, tt.via, tt.people...)
			if _, err := r.sim.Await(context.Background(), func(cs []ccaisim.Call) bool { return len(cs) == 1 }); err != nil {
				t.Fatal(err)
			}
			tt.drive(t, r)
			res, err := r.result(t)
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			for _, c := range []struct {
				what      string
				got, want []string
			}{
				{"reached", names(res.Reached), tt.reached},
				{"not called", reasons(res.NotCalled), tt.notCall},
				{"failed", reasons(res.Failed), tt.failed},
				{"the calls' course", course(r.sim), tt.course},
			} {
				if c.want == nil {
					c.want = []string{}
				}
				if c.got == nil {
					c.got = []string{}
				}
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s:\n got %q\nwant %q", c.what, c.got, c.want)
				}
			}
			if len(res.References) != len(res.Reached) {
				t.Errorf("references %v for %d people reached", res.References, len(res.Reached))
			}
		})
	}
}

func badNumber(t *testing.T, n string) string {
	t.Helper()
	_, err := ccai.Kind{}.Dial(n)
	if err == nil {
		t.Fatalf("%s is a valid number", n)
	}
	return err.Error()
}

// TestRotationThroughTheDispatcher: the dispatcher gives a rotation's one
// attempt room for every turn (AttemptTimer, found on Provider()), and its
// outcome says exactly whom the rotation called and whom it did not.
func TestRotationThroughTheDispatcher(t *testing.T) {
	clk := clock.NewFake(t0)
	f := newFixtureWith(t, func(c *ccaisim.Config) { c.NoAnswerAfter = -1 },
		func(c *ccai.Config) { c.CheckAnswered, c.Clock = true, clk })
	d, err := dispatch.New(dispatch.Config{Providers: map[string]dispatch.Provider{ccai.Name: f.c.Provider()},
		Clock: clk, RequestTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	req := dispatch.Request{EscalationID: "esc-1", Strategy: provider.Rotation, People: []provider.Person{carol, dave, erin}}
	chain := []provider.Via{{Provider: ccai.Name, Settings: ann}}
	var reports []dispatch.Report
	done := make(chan dispatch.Outcome)
	go func() {
		done <- d.Dispatch(context.Background(), req, chain, 10*time.Minute, func(r dispatch.Report) { reports = append(reports, r) })
	}()
	r := &rotationRig{fixture: f, clk: clk, done: make(chan struct{})}
	if _, err := f.sim.Await(context.Background(), func(cs []ccaisim.Call) bool { return len(cs) == 1 }); err != nil {
		t.Fatal(err)
	}
	r.waiting(t)
	end(t, f.sim.EndCall(397, "eu_no_answer"))
	clk.Advance(2 * time.Second)
	if _, err := f.sim.Await(context.Background(), func(cs []ccaisim.Call) bool { return len(cs) == 2 }); err != nil {
		t.Fatal(err)
	}
	r.waiting(t)
	end(t, f.sim.AnswerCall(398))
	clk.Advance(2 * time.Second)
	var out dispatch.Outcome
	select {
	case out = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Dispatch did not return")
	}
	if got := names(out.Reached()); !slices.Equal(got, []string{"carol", "dave"}) {
		t.Errorf("reached %v; want carol and dave", got)
	}
	if got := reasons(out.NotCalled); !slices.Equal(got, []string{"erin: the rotation stopped: dave answered"}) {
		t.Errorf("not called %v", got)
	}
	if len(out.Unreached) != 0 || out.Attempts != 1 {
		t.Errorf("unreached %v after %d attempts; want none after 1", out.Unreached, out.Attempts)
	}
	if el := clk.Now().Sub(t0); el > 10*time.Minute {
		t.Errorf("the rotation took %s, more than the step's wait", el)
	}
	last := reports[len(reports)-1]
	if last.Kind != dispatch.ReportDispatched || !slices.Equal(names(last.People), []string{"carol", "dave"}) ||
		!slices.Equal(reasons(last.NotCalled), []string{"erin: the rotation stopped: dave answered"}) {
		t.Errorf("last report %+v; want dispatched to carol and dave, erin not called", last)
	}
}

// TestAttemptTimeout: a rotation's one attempt has room for each turn after
// the first (one ring for the call, one for a busy agent, and the requests).
func TestAttemptTimeout(t *testing.T) {
	c := newFixture(t, nil).c
	three := []provider.Person{carol, dave, erin}
	tests := []struct {
		name string
		req  dispatch.Request
		want time.Duration
	}{
		{"rotation, default ring", request(provider.Rotation, ann, three...), 10*time.Second + 2*(2*time.Minute+10*time.Second)},
		{"rotation, ring 30s", request(provider.Rotation, ccai.Settings{Agents: ann.Agents, Ring: 30 * time.Second}, three...),
			10*time.Second + 2*(time.Minute+10*time.Second)},
		{"rotation of one", request(provider.Rotation, ann, carol), 10 * time.Second},
		{"broadcast", request(provider.Broadcast, twoAgents, carol, dave), 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Provider().(dispatch.AttemptTimer).AttemptTimeout(10*time.Second, tt.req); got != tt.want {
				t.Errorf("AttemptTimeout = %s; want %s", got, tt.want)
			}
		})
	}
}
