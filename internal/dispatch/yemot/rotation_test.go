package yemot_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot/yemotsim"
	"github.com/escalator-oss/escalator/internal/provider"
)

// outcome is what one Call returned.
type outcome struct {
	res dispatch.Result
	err error
}

// run is a Call running in the background against a simulator that shares
// its fake clock.
type run struct {
	t    *testing.T
	fake *clock.Fake
	done chan outcome
	out  *outcome
}

func startCall(t *testing.T, fake *clock.Fake, call func() (dispatch.Result, error)) *run {
	t.Helper()
	r := &run{t: t, fake: fake, done: make(chan outcome, 1)}
	go func() {
		res, err := call()
		r.done <- outcome{res, err}
	}()
	// A quiet() still waiting for waiters when the test ends is released.
	t.Cleanup(func() { fake.After(time.Hour) })
	return r
}

// quiet waits until the Call waits on the clock (false) or has returned
// (true).
func (r *run) quiet() bool {
	r.t.Helper()
	if r.out != nil {
		return true
	}
	waiting := make(chan struct{})
	go func() {
		r.fake.WaitForWaiters(1)
		close(waiting)
	}()
	select {
	case out := <-r.done:
		r.out = &out
		return true
	case <-waiting:
		return false
	case <-time.After(20 * time.Second):
		r.t.Fatal("the call neither waits on the clock nor returns")
		return false
	}
}

// finish moves the clock on a second at a time, whenever the Call waits on
// it, until the Call returns; at, when set, is called before each second
// with the time since the start, and may change the simulator.
func (r *run) finish(at func(elapsed time.Duration)) outcome {
	r.t.Helper()
	start := r.fake.Now()
	for range 3600 {
		if r.quiet() {
			return *r.out
		}
		if at != nil {
			at(r.fake.Now().Sub(start))
		}
		r.fake.Advance(time.Second)
	}
	r.t.Fatal("the call did not end within an hour of fake time")
	return outcome{}
}

func names(people []provider.Person) []string {
	var out []string
	for _, p := range people {
		out = append(out, p.Name)
	}
	return out
}

func reasons(us []provider.Unreached) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Person.Name+": "+u.Reason)
	}
	return out
}

// bridgings are the simulator's CallExtensionBridging campaigns.
func bridgings(s *yemotsim.Server) []yemotsim.Campaign {
	var out []yemotsim.Campaign
	for _, c := range s.Campaigns() {
		if c.Command == "CallExtensionBridging" {
			out = append(out, c)
		}
	}
	return out
}

// TestRotation: one person at a time; the next only once the previous call
// has ended unanswered or its ring time is over; the rotation stops when
// someone answers or the escalation is acknowledged, and the rest are not
// called, with why.
func TestRotation(t *testing.T) {
	type step struct {
		number string
		start  time.Duration // from the first campaign
	}
	tests := []struct {
		name          string
		noDetection   bool
		people        int
		setup         func(s *yemotsim.Server)
		statuses      []string // entry statuses set for p0, p1, ... once their call rings ("": none)
		ackAt         time.Duration
		want          []step
		wantReached   []string
		wantNotCalled []string
		wantFailed    []string
	}{
		{name: "someone answers: the rotation stops", people: 3,
			setup: func(s *yemotsim.Server) { s.WillAnswer(national(1), 5*time.Second) },
			want:  []step{{national(0), 0}, {national(1), 20 * time.Second}}, wantReached: []string{"p0", "p1"},
			wantNotCalled: []string{"p2: the rotation stopped: p1 answered"}},
		{name: "no_answer, busy, failed, done: the next at once", people: 5,
			statuses: []string{"no_answer", "busy", "failed", "done"},
			want: []step{{national(0), 0}, {national(1), 2 * time.Second}, {national(2), 4 * time.Second},
				{national(3), 6 * time.Second}, {national(4), 8 * time.Second}},
			wantReached: []string{"p0", "p1", "p2", "p3", "p4"}},
		{name: "a call that never ends: the next when its ring time and the status's lag are over", people: 2,
			statuses:    []string{"dialing"},
			want:        []step{{national(0), 0}, {national(1), 25 * time.Second}},
			wantReached: []string{"p0", "p1"}},
		{name: "acknowledged while the first rings", people: 3, ackAt: 9 * time.Second,
			want: []step{{national(0), 0}}, wantReached: []string{"p0"},
			wantNotCalled: []string{"p1: the escalation was acknowledged", "p2: the escalation was acknowledged"}},
		{name: "a number Yemot does not dial: the next at once", people: 3,
			setup: func(s *yemotsim.Server) { s.Reject(national(0), "") },
			want:  []step{{national(1), 0}, {national(2), 20 * time.Second}}, wantReached: []string{"p1", "p2"},
			wantFailed: []string{"p0"}},
		{name: "without answered detection: the ring time apart, answered or not", noDetection: true, people: 3,
			setup:       func(s *yemotsim.Server) { s.WillAnswer(national(0), 5*time.Second) },
			want:        []step{{national(0), 0}, {national(1), 20 * time.Second}, {national(2), 40 * time.Second}},
			wantReached: []string{"p0", "p1", "p2"}},
		{name: "without answered detection, acknowledged", noDetection: true, people: 3, ackAt: 25 * time.Second,
			want: []step{{national(0), 0}, {national(1), 20 * time.Second}}, wantReached: []string{"p0", "p1"},
			wantNotCalled: []string{"p2: the escalation was acknowledged"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			f := newFixtureWith(t, yemotsim.Config{Clock: fake}, func(c *yemot.Config) {
				c.Clock, c.CheckAnswered = fake, !tt.noDetection
			})
			if tt.setup != nil {
				tt.setup(f.sim)
			}
			var stopped atomic.Bool
			req := request(provider.Rotation, people(tt.people), via)
			req.Stopped = stopped.Load
			r := startCall(t, fake, func() (dispatch.Result, error) { return f.c.Call(context.Background(), req) })
			out := r.finish(func(elapsed time.Duration) {
				for i, st := range tt.statuses {
					if st != "" {
						f.sim.SetEntryStatus(national(i), st)
					}
				}
				if tt.ackAt > 0 && elapsed >= tt.ackAt {
					stopped.Store(true)
				}
			})
			if out.err != nil {
				t.Fatalf("Call: %v", out.err)
			}
			cs := bridgings(f.sim)
			var got []step
			for _, c := range cs {
				if len(c.Phones) > 0 { // a campaign whose one number Yemot refused dials nobody
					got = append(got, step{c.Phones[0], c.Started.Sub(cs[0].Started)})
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("campaigns (number, start) = %v; want %v", got, tt.want)
			}
			if g := names(out.res.Reached); !slices.Equal(g, tt.wantReached) {
				t.Errorf("Reached = %v; want %v", g, tt.wantReached)
			}
			if g := reasons(out.res.NotCalled); !slices.Equal(g, tt.wantNotCalled) {
				t.Errorf("NotCalled = %v; want %v", g, tt.wantNotCalled)
			}
			var failed []string
			for _, u := range out.res.Failed {
				failed = append(failed, u.Person.Name)
			}
			if !slices.Equal(failed, tt.wantFailed) {
				t.Errorf("Failed = %v; want %v", out.res.Failed, tt.wantFailed)
			}
			if len(out.res.References) != len(cs) {
				t.Errorf("References = %v; want the %d campaigns' ids", out.res.References, len(cs))
			}
			statusAsked := slices.ContainsFunc(f.sim.Requests(), func(r yemotsim.Request) bool { return r.Command == "GetCampaignStatus" })
			if statusAsked == tt.noDetection {
				t.Errorf("GetCampaignStatus asked: %v, with answered detection %v", statusAsked, !tt.noDetection)
			}
		})
	}
}

// TestTzintukRightBeforeItsCall: a tzintuk announces the call that follows
// it: in a rotation each person's goes right before their own campaign,
// not all at the start.
func TestTzintukRightBeforeItsCall(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := newFixtureWith(t, yemotsim.Config{Clock: fake}, func(c *yemot.Config) { c.Clock, c.CheckAnswered = fake, true })
	v := via
	v.Tzintuk = true
	req := request(provider.Rotation, people(3), v)
	r := startCall(t, fake, func() (dispatch.Result, error) { return f.c.Call(context.Background(), req) })
	if out := r.finish(nil); out.err != nil {
		t.Fatal(out.err)
	}
	var got []string
	start := f.sim.Campaigns()[0].Started
	for _, c := range f.sim.Campaigns() {
		got = append(got, fmt.Sprintf("%s %s at %s", c.Command, c.Phones[0], c.Started.Sub(start)))
	}
	want := []string{
		"RunTzintuk " + national(0) + " at 0s", "CallExtensionBridging " + national(0) + " at 0s",
		"RunTzintuk " + national(1) + " at 20s", "CallExtensionBridging " + national(1) + " at 20s",
		"RunTzintuk " + national(2) + " at 40s", "CallExtensionBridging " + national(2) + " at 40s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("campaigns:\n%v\nwant:\n%v", got, want)
	}
}

// TestRotationThroughTheDispatcher: the people a stopped rotation did not
// call are not_called, and not passed on to the next provider.
func TestRotationThroughTheDispatcher(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := newFixtureWith(t, yemotsim.Config{Clock: fake}, func(c *yemot.Config) { c.Clock, c.CheckAnswered = fake, true })
	f.sim.WillAnswer(national(0), 3*time.Second)
	d, err := dispatch.New(dispatch.Config{Providers: map[string]dispatch.Provider{yemot.Name: f.c.Provider()}, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	req := request(provider.Rotation, people(3), via)
	chain := []provider.Via{req.Via, {Provider: "ccai"}}
	var reports []dispatch.Report
	var o dispatch.Outcome
	r := startCall(t, fake, func() (dispatch.Result, error) {
		o = d.Dispatch(context.Background(), req, chain, 10*time.Minute, func(rep dispatch.Report) { reports = append(reports, rep) })
		return dispatch.Result{}, nil
	})
	r.finish(nil)
	if g := names(o.Reached()); !slices.Equal(g, []string{"p0"}) {
		t.Errorf("reached %v; want p0", g)
	}
	want := []string{"p1: the rotation stopped: p0 answered", "p2: the rotation stopped: p0 answered"}
	if g := reasons(o.NotCalled); !slices.Equal(g, want) {
		t.Errorf("not called %v; want %v", g, want)
	}
	if len(o.Unreached) != 0 {
		t.Errorf("unreached %v; want none", o.Unreached)
	}
	for _, rep := range reports {
		if rep.Kind == dispatch.ReportFallback {
			t.Errorf("fallback reported: %+v", rep)
		}
		if rep.Kind == dispatch.ReportDispatched && (!slices.Equal(names(rep.People), []string{"p0"}) || !slices.Equal(reasons(rep.NotCalled), want)) {
			t.Errorf("dispatched %+v; want p0 reached, p1 and p2 not called", rep)
		}
	}
}
