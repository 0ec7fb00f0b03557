package iotcall_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall/iotcallsim"
	"github.com/escalator-oss/escalator/internal/provider"
)

// poolRequest is a broadcast request of people through the pool rules, for
// escalation esc.
func poolRequest(esc string, rules []string, people ...provider.Person) dispatch.Request {
	set := iotcall.Settings{Rules: rules}
	if len(rules) == 1 {
		set = iotcall.Settings{Rule: rules[0]}
	}
	return dispatch.Request{EscalationID: esc, Strategy: provider.Broadcast, People: people,
		Via: provider.Via{Provider: iotcall.Name, Settings: set}}
}

// waitSignal wraps a locker and closes waiting when the second blocking
// Lock starts (a call waiting for a rule); TryLock, when the locker has it,
// passes through.
type waitSignal struct {
	dispatch.Locker
	n       *atomic.Int32
	waiting chan struct{}
}

func (w *waitSignal) Lock(ctx context.Context, key string) (func(), error) {
	if w.n.Add(1) == 2 {
		close(w.waiting)
	}
	return w.Locker.Lock(ctx, key)
}

// trying is a waitSignal whose locker can try.
type trying struct{ *waitSignal }

func (t trying) TryLock(ctx context.Context, key string) (func(), bool, error) {
	return t.Locker.(dispatch.TryLocker).TryLock(ctx, key)
}

// lockOnly hides a locker's TryLock.
type lockOnly struct{ l dispatch.Locker }

func (o lockOnly) Lock(ctx context.Context, key string) (func(), error) { return o.l.Lock(ctx, key) }

// ruleOf is the rule key of a simulator request's path.
func ruleOf(path string) string {
	return strings.Split(strings.TrimPrefix(path, "/pattern/"), "/")[0]
}

// TestPoolCallsAtOnce runs two escalations of one step at once. The first
// PUT to reach the simulator is held until the simulator sees a request on
// another rule (the calls run at once) or the other call waits for a rule's
// lock (they queue): with a pool of two rules and a locker that can try,
// the second call takes the free rule while the first holds its own; with
// one rule, or a locker that cannot try, it waits.
func TestPoolCallsAtOnce(t *testing.T) {
	local := func(*testing.T) [2]dispatch.Locker {
		l := &dispatch.LocalLocker{}
		return [2]dispatch.Locker{l, l}
	}
	tests := []struct {
		name     string
		rules    []string
		lockers  func(t *testing.T) [2]dispatch.Locker
		noTry    bool
		atOnce   bool
		wantSeen string
	}{
		{name: "pool of two, in-process locker", rules: []string{"db-1", "db-2"}, lockers: local, atOnce: true},
		{name: "pool of two, jetstream kv locker, two replicas", rules: []string{"db-1", "db-2"}, lockers: kvLockers, atOnce: true},
		{name: "one rule: serialized", rules: []string{"db-1"}, lockers: local},
		{name: "one rule, jetstream kv locker: serialized", rules: []string{"db-1"}, lockers: kvLockers},
		{name: "pool of two, a locker that cannot try: serialized on one rule", rules: []string{"db-1", "db-2"}, lockers: local, noTry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := iotcallsim.NewServer(authCode)
			defer srv.Close()
			for _, r := range tt.rules {
				srv.AddRule(r, iotcallsim.Broadcast)
			}

			var n atomic.Int32
			waiting := make(chan struct{})
			other := make(chan struct{})
			var mu sync.Mutex
			first, seen := "", ""
			srv.SetHook(func(r iotcallsim.Request) {
				rule := ruleOf(r.Path)
				mu.Lock()
				if first == "" && r.Method == http.MethodPut {
					first = rule
					mu.Unlock()
					var s string
					select {
					case <-other:
						s = "at once"
					case <-waiting:
						s = "queued"
					case <-time.After(20 * time.Second): // a hang guard
						s = "neither"
					}
					mu.Lock()
					seen = s
					mu.Unlock()
					return
				}
				if first != "" && rule != first {
					select {
					case <-other:
					default:
						close(other)
					}
				}
				mu.Unlock()
			})

			ls := tt.lockers(t)
			results := make([]dispatch.Result, 2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, people := range [][]provider.Person{escA, escB} {
				ws := &waitSignal{Locker: ls[i], n: &n, waiting: waiting}
				var lk dispatch.Locker = trying{ws}
				if tt.noTry {
					lk = lockOnly{ws}
				}
				c := newClient(t, srv.URL(), func(c *iotcall.Config) { c.Locker = lk })
				wg.Add(1)
				go func() {
					defer wg.Done()
					// One escalation id: both calls start on the same rule,
					// so only the try can spread them.
					results[i], errs[i] = c.Call(context.Background(), poolRequest("esc-1", tt.rules, people...))
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			want := map[bool]string{true: "at once", false: "queued"}[tt.atOnce]
			if seen != want {
				t.Fatalf("the calls were seen %s, want %s", seen, want)
			}

			// Each call rang its own escalation's numbers, on the rule its
			// result names.
			used := map[string]string{}
			for i, res := range results {
				if len(res.References) != 1 || !slices.Contains(tt.rules, res.References[0]) {
					t.Fatalf("result %d references %v, want one rule of %v", i, res.References, tt.rules)
				}
				used[res.References[0]] = []string{telsA, telsB}[i]
				wantDetail := ""
				if len(tt.rules) > 1 {
					wantDetail = fmt.Sprintf("rule %s of the pool %s; ", res.References[0], strings.Join(tt.rules, ", "))
				}
				if !strings.HasPrefix(res.Detail, wantDetail+"tel: ") {
					t.Errorf("result %d detail %q, want it to start with %q", i, res.Detail, wantDetail+"tel: ")
				}
			}
			if tt.atOnce && len(used) != 2 {
				t.Fatalf("both calls used rule %v, want one rule each", results[0].References)
			}
			var rung []string
			for _, c := range srv.Calls() {
				rung = append(rung, c.Rule+"="+strings.Join(c.Tels, ","))
				if tt.atOnce && used[c.Rule] != strings.Join(c.Tels, ",") {
					t.Errorf("rule %s rang %v, want %s", c.Rule, c.Tels, used[c.Rule])
				}
			}
			if len(rung) != 2 {
				t.Fatalf("calls placed %v, want two", rung)
			}
			if !tt.atOnce {
				var seq []string
				for _, r := range srv.Requests() {
					seq = append(seq, r.Method+" "+ruleOf(r.Path))
				}
				r := results[0].References[0]
				if got, want := strings.Join(seq, ", "), fmt.Sprintf("PUT %s, POST %s, PUT %s, POST %s", r, r, r, r); got != want {
					t.Fatalf("requests %s, want %s", got, want)
				}
				slices.Sort(rung)
				if got, want := strings.Join(rung, " "), r+"="+telsA+" "+r+"="+telsB; got != want {
					t.Fatalf("calls rang %s, want %s", got, want)
				}
			}
		})
	}
}

// TestPoolSpreadsEscalations: with every rule free, escalations start on
// rules derived from their ids, so that a burst does not pile onto the
// first rule; one escalation's calls keep to one rule.
func TestPoolSpreadsEscalations(t *testing.T) {
	srv := iotcallsim.NewServer(authCode)
	defer srv.Close()
	rules := []string{"db-1", "db-2", "db-3"}
	for _, r := range rules {
		srv.AddRule(r, iotcallsim.Broadcast)
	}
	c := newClient(t, srv.URL(), nil)
	count := map[string]int{}
	for i := range 30 {
		res, err := c.Call(context.Background(), poolRequest(fmt.Sprintf("esc-%d", i), rules, alice, bob))
		if err != nil {
			t.Fatal(err)
		}
		count[res.References[0]]++
	}
	for _, r := range rules {
		if count[r] < 3 {
			t.Errorf("rule %s took %d of 30 escalations (%v), want each a share", r, count[r], count)
		}
	}
	var again []string
	for range 3 {
		res, err := c.Call(context.Background(), poolRequest("esc-7", rules, alice, bob))
		if err != nil {
			t.Fatal(err)
		}
		again = append(again, res.References[0])
	}
	if again[0] != again[1] || again[1] != again[2] {
		t.Errorf("one escalation's calls used %v, want one rule", again)
	}
}

// TestSimulatorPreparesEveryRuleOfAPool: the simulator a worker runs with
// --simulate-providers creates every rule of a step's pool, with the step's
// call type, and keeps enforcing it.
func TestSimulatorPreparesEveryRuleOfAPool(t *testing.T) {
	sim := iotcall.Spec{}.Simulate(dispatch.SimOptions{}).(*iotcall.Sim)
	defer sim.Close()
	sim.Prepare(iotcall.Settings{Rules: []string{"db-1", "db-2"}}, provider.Step{Strategy: provider.Single})
	c, err := iotcall.New(iotcall.Config{BaseURL: sim.URL(), AuthCode: sim.Env()["IOTCALL_AUTH_CODE"]})
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range []string{"db-1", "db-2"} {
		// Two numbers on a 通常 rule: the call is refused before the rule is
		// fired, so fire it once with one and once with two through the
		// simulator's own check.
		req := poolRequest("esc-1", []string{rule}, alice)
		req.Strategy = provider.Single
		if _, err := c.Call(context.Background(), req); err != nil {
			t.Fatalf("rule %s: %v", rule, err)
		}
		req = poolRequest("esc-1", []string{rule}, alice, bob)
		if _, err := c.Call(context.Background(), req); err == nil || !strings.Contains(err.Error(), "400") {
			t.Fatalf("rule %s, two numbers on a 通常 rule: %v, want the simulator's 400", rule, err)
		}
	}
	var rules []string
	for _, call := range sim.Calls() {
		if call.Type != iotcallsim.Normal {
			t.Errorf("rule %s has type %d, want 通常", call.Rule, call.Type)
		}
		rules = append(rules, call.Rule)
	}
	if strings.Join(rules, " ") != "db-1 db-2" {
		t.Errorf("calls placed through %v, want db-1 db-2", rules)
	}
}
