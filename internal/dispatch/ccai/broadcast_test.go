package ccai_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/escalator-oss/escalator/internal/dispatch/ccai"
	"github.com/escalator-oss/escalator/internal/dispatch/ccai/ccaisim"
	"github.com/escalator-oss/escalator/internal/provider"
)

// TestEachPersonTheirAgent: in a broadcast (and a single call) each person
// gets the next agent of the list that is free and willing, then the menu.
// Any refusal of an agent passes the call on, with the agent's reason kept;
// before, only the exact "not available" did, and an agent who is "Not a
// valid agent email" or "does not have access to make calls" ended the call
// for that person with the other agents and the menu never tried.
func TestEachPersonTheirAgent(t *testing.T) {
	const (
		invalid  = "Not a valid agent email"
		noAccess = "Agent does not have access to make calls"
	)
	tests := []struct {
		name     string
		strategy provider.Strategy
		agents   map[string]ccaisim.AgentState // besides ann and bob, available
		via      ccai.Settings
		people   []provider.Person
		reached  []string
		failed   []string
		calls    []string // agent or "menu", in order
		asked    map[string]int
		detail   []string // parts of Result.Detail
	}{
		{name: "two people, two agents", strategy: provider.Broadcast, via: twoAgents, people: []provider.Person{carol, dave},
			reached: []string{"carol", "dave"}, calls: []string{"ann", "bob"},
			asked: map[string]int{"ann@example.com": 1, "bob@example.com": 1}},
		{name: "two people, one agent and a menu", strategy: provider.Broadcast, via: annMenu, people: []provider.Person{carol, dave},
			reached: []string{"carol", "dave"}, calls: []string{"ann", "menu"}, asked: map[string]int{"ann@example.com": 1},
			detail: []string{"dave: queued in menu 9, call 398 queued (ann@example.com: on this step's call to carol)"}},
		{name: "two people, one agent, no menu", strategy: provider.Broadcast, via: ann, people: []provider.Person{carol, dave},
			reached: []string{"carol"}, calls: []string{"ann"}, asked: map[string]int{"ann@example.com": 1},
			failed: []string{"dave: no agent took the call (ann@example.com: on this step's call to carol) and the step has no menu_id"}},
		{name: "an invalid agent first", strategy: provider.Single,
			via:    ccai.Settings{Agents: []string{"nobody@example.com", "ann@example.com"}},
			people: []provider.Person{carol}, reached: []string{"carol"}, calls: []string{"ann"}},
		{name: "an agent without access first", strategy: provider.Single, agents: map[string]ccaisim.AgentState{"x@example.com": ccaisim.NoAccess},
			via:    ccai.Settings{Agents: []string{"x@example.com", "ann@example.com"}},
			people: []provider.Person{carol}, reached: []string{"carol"}, calls: []string{"ann"},
			detail: []string{"carol: agent ann@example.com, call 397 assigned"}},
		{name: "every agent refuses: the menu, with their reasons", strategy: provider.Single,
			agents: map[string]ccaisim.AgentState{"x@example.com": ccaisim.NoAccess, "y@example.com": ccaisim.Unavailable},
			via:    ccai.Settings{Agents: []string{"nobody@example.com", "x@example.com", "y@example.com"}, MenuID: 9},
			people: []provider.Person{carol}, reached: []string{"carol"}, calls: []string{"menu"},
			detail: []string{"carol: queued in menu 9, call 397 queued (nobody@example.com: " + invalid + "; x@example.com: " + noAccess +
				"; y@example.com: Agent is not available to take this call)"}},
		{name: "a refusing agent is not asked again for the next person", strategy: provider.Broadcast,
			via:    ccai.Settings{Agents: []string{"nobody@example.com", "ann@example.com", "bob@example.com"}},
			people: []provider.Person{carol, dave}, reached: []string{"carol", "dave"}, calls: []string{"ann", "bob"},
			asked: map[string]int{"nobody@example.com": 1, "ann@example.com": 1, "bob@example.com": 1}},
		{name: "everyone refuses and no menu: failed with every reason", strategy: provider.Broadcast,
			agents: map[string]ccaisim.AgentState{"x@example.com": ccaisim.NoAccess},
			via:    ccai.Settings{Agents: []string{"nobody@example.com", "x@example.com", "ann@example.com"}},
			people: []provider.Person{carol, dave}, reached: []string{"carol"}, calls: []string{"ann"},
			failed: []string{"dave: no agent took the call (nobody@example.com: " + invalid + "; x@example.com: " + noAccess +
				"; ann@example.com: on this step's call to carol) and the step has no menu_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			for a, st := range tt.agents {
				f.sim.SetAgent(a, st)
			}
			res, err := f.c.Call(context.Background(), request(tt.strategy, tt.via, tt.people...))
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			if got := names(res.Reached); !slices.Equal(got, tt.reached) {
				t.Errorf("reached %v; want %v", got, tt.reached)
			}
			if got, want := reasons(res.Failed), orEmpty(tt.failed); !slices.Equal(got, want) {
				t.Errorf("failed:\n got %q\nwant %q", got, want)
			}
			var calls []string
			for _, c := range f.sim.Calls() {
				calls = append(calls, cmpOr(strings.TrimSuffix(c.AgentEmail, "@example.com"), "menu"))
			}
			if !slices.Equal(calls, tt.calls) {
				t.Errorf("calls by %v; want %v", calls, tt.calls)
			}
			for agent, n := range tt.asked {
				if got := asked(f.sim, agent); got != n {
					t.Errorf("%s asked %d times; want %d", agent, got, n)
				}
			}
			for _, d := range tt.detail {
				if !strings.Contains(res.Detail, d) {
					t.Errorf("detail %q does not say %q", res.Detail, d)
				}
			}
		})
	}
}

// asked counts the call requests the simulator received for agent.
func asked(sim *ccaisim.Server, agent string) int {
	n := 0
	for _, r := range sim.Requests() {
		if r.Method == "POST" && strings.Contains(string(r.Body), `"agent_email":"`+agent+`"`) {
			n++
		}
	}
	return n
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func cmpOr(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

// TestBadNumberAndTheOthers: a number the platform refuses fails that
// person only; the others are still called, each by an agent of their own.
func TestBadNumberAndTheOthers(t *testing.T) {
	f := newFixture(t, nil)
	bad := provider.Person{Name: "eve", Phone: "+1205"}
	res, err := f.c.Call(context.Background(), request(provider.Broadcast, twoAgents, carol, bad, dave))
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	if len(res.Reached) != 2 || len(res.Failed) != 1 || res.Failed[0].Person.Name != "eve" || len(res.References) != 2 {
		t.Errorf("result %+v; want carol and dave reached, eve failed, 2 references", res)
	}
}
