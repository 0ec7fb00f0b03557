package dispatch

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/provider"
)

// People with several numbers: aiko's first number is A1, then A2; ren
// has R1 and, for the provider "one" only, R9.
const (
	A1 = "+818043391001"
	A2 = "+818043391002"
	B1 = "+818043391101"
	B2 = "+818043391102"
	C1 = "+818043391201"
	C2 = "+818043391202"
	R1 = "+972501234001"
	R9 = "+972501234009"
)

var (
	aiko  = provider.Person{Name: "aiko", Phone: A1, Alternates: []string{A2}}
	ben   = provider.Person{Name: "ben", Phone: B1, Alternates: []string{B2}}
	chika = provider.Person{Name: "chika", Phone: C1, Alternates: []string{C2}}
	ren   = provider.Person{Name: "ren", Phone: R1, ByProvider: map[string][]string{"one": {R9}}}
)

// numbersOf are the people of each of f's requests, as "name=number",
// one request per element.
func numbersOf(f *fakeProvider) []string {
	var out []string
	for _, req := range f.Calls() {
		var ps []string
		for _, p := range req.People {
			ps = append(ps, p.Name+"="+p.Phone)
		}
		out = append(out, strings.Join(ps, ","))
	}
	return out
}

func peopleOf(ps []provider.Person) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name+"="+p.Phone)
	}
	return strings.Join(out, ",")
}

// TestDispatchTriesFurtherNumbers: a person whom a provider could not call
// on one number is asked for again on their next number at the same
// provider, in a request of just the people concerned, before the chain
// moves on; only then does the next provider try them, from its own first
// number. People reached, or not called on purpose, are not asked for
// again; a provider that fails as a whole passes everyone on at once.
func TestDispatchTriesFurtherNumbers(t *testing.T) {
	tests := []struct {
		name          string
		strategy      provider.Strategy
		first         *fakeProvider
		people        []provider.Person
		wantKinds     string
		wantOne       []string          // the first provider's requests
		wantTwo       []string          // the second provider's requests
		wantReachedBy map[string]string // number → provider
		wantUnreached string            // name=number of the last number tried
		wantNotCalled string
	}{
		{
			name:          "first number refused, reached on the second before the chain moves on",
			strategy:      provider.Single,
			first:         &fakeProvider{name: "one", failed: map[string]string{A1: "not Vaild"}},
			people:        []provider.Person{aiko},
			wantKinds:     "attempt:one dispatch_failed:one attempt:one dispatched:one",
			wantOne:       []string{"aiko=" + A1, "aiko=" + A2},
			wantReachedBy: map[string]string{A2: "one", A1: ""},
		},
		{
			name:          "every number refused: the next provider tries the person from its first number",
			strategy:      provider.Single,
			first:         &fakeProvider{name: "one", failed: map[string]string{A1: "not Vaild", A2: "not Vaild"}},
			people:        []provider.Person{aiko},
			wantKinds:     "attempt:one dispatch_failed:one attempt:one dispatch_failed:one fallback:one attempt:two dispatched:two",
			wantOne:       []string{"aiko=" + A1, "aiko=" + A2},
			wantTwo:       []string{"aiko=" + A1},
			wantReachedBy: map[string]string{A1: "two"},
		},
		{
			name:     "a request refused for its numbers, one by one (an error with a Result), goes on to the next numbers",
			strategy: provider.Broadcast,
			first: &fakeProvider{name: "one", refuseEach: true,
				failed: map[string]string{A1: "no country id", B1: "no country id"}},
			people:        []provider.Person{aiko, ben},
			wantKinds:     "attempt:one dispatch_failed:one attempt:one dispatched:one",
			wantOne:       []string{"aiko=" + A1 + ",ben=" + B1, "aiko=" + A2 + ",ben=" + B2},
			wantReachedBy: map[string]string{A2: "one", B2: "one"},
		},
		{
			name:          "a provider failing as a whole passes everyone on at once",
			strategy:      provider.Single,
			first:         &fakeProvider{name: "one", script: []error{errBadRequest}},
			people:        []provider.Person{aiko},
			wantKinds:     "attempt:one dispatch_failed:one fallback:one attempt:two dispatched:two",
			wantOne:       []string{"aiko=" + A1},
			wantTwo:       []string{"aiko=" + A1},
			wantReachedBy: map[string]string{A1: "two"},
		},
		{
			name:          "numbers by provider: one calls its own, two calls the phone",
			strategy:      provider.Single,
			first:         &fakeProvider{name: "one", failed: map[string]string{R9: "busy line"}},
			people:        []provider.Person{ren},
			wantKinds:     "attempt:one dispatch_failed:one fallback:one attempt:two dispatched:two",
			wantOne:       []string{"ren=" + R9},
			wantTwo:       []string{"ren=" + R1},
			wantReachedBy: map[string]string{R1: "two"},
		},
		{
			name:     "broadcast: only the people whose number failed are asked again, in their order",
			strategy: provider.Broadcast,
			first:    &fakeProvider{name: "one", failed: map[string]string{A1: "not Vaild", C1: "not Vaild"}},
			people:   []provider.Person{aiko, ben, chika},
			wantKinds: "attempt:one dispatched:one dispatch_failed:one " +
				"attempt:one dispatched:one",
			wantOne:       []string{"aiko=" + A1 + ",ben=" + B1 + ",chika=" + C1, "aiko=" + A2 + ",chika=" + C2},
			wantReachedBy: map[string]string{A2: "one", B1: "one", C2: "one"},
		},
		{
			name:     "rotation: the rest of a stopped rotation are not asked again; the refused are",
			strategy: provider.Rotation,
			first: &fakeProvider{name: "one", failed: map[string]string{A1: "not Vaild"},
				skip: map[string]string{C1: "the rotation stopped: ben answered"}},
			people:        []provider.Person{aiko, ben, chika},
			wantKinds:     "attempt:one dispatched:one dispatch_failed:one attempt:one dispatched:one",
			wantOne:       []string{"aiko=" + A1 + ",ben=" + B1 + ",chika=" + C1, "aiko=" + A2},
			wantReachedBy: map[string]string{A2: "one", B1: "one", C1: "", C2: ""},
			wantNotCalled: "chika=" + C1,
		},
		{
			name:     "the next provider gets the people in the step's order, whichever number failed last",
			strategy: provider.Rotation,
			first: &fakeProvider{name: "one", failed: map[string]string{A1: "not Vaild", A2: "not Vaild",
				bob.Phone: "not Vaild"}},
			people: []provider.Person{aiko, bob},
			wantKinds: "attempt:one dispatch_failed:one attempt:one dispatch_failed:one fallback:one " +
				"attempt:two dispatched:two",
			wantOne:       []string{"aiko=" + A1 + ",bob=" + bob.Phone, "aiko=" + A2},
			wantTwo:       []string{"aiko=" + A1 + ",bob=" + bob.Phone},
			wantReachedBy: map[string]string{A1: "two", bob.Phone: "two"},
		},
		{
			name:          "a person the provider does not mention is taken as failed",
			strategy:      provider.Single,
			first:         &fakeProvider{name: "one", silent: map[string]bool{A1: true}},
			people:        []provider.Person{aiko},
			wantKinds:     "attempt:one dispatch_failed:one attempt:one dispatched:one",
			wantOne:       []string{"aiko=" + A1, "aiko=" + A2},
			wantReachedBy: map[string]string{A2: "one"},
		},
		{
			name:     "chain exhausted: the outcome names the last number tried",
			strategy: provider.Single,
			first:    &fakeProvider{name: "one", failed: map[string]string{A1: "not Vaild", A2: "not Vaild"}},
			people:   []provider.Person{aiko},
			wantKinds: "attempt:one dispatch_failed:one attempt:one dispatch_failed:one fallback:one " +
				"attempt:two dispatch_failed:two attempt:two dispatch_failed:two",
			wantOne:       []string{"aiko=" + A1, "aiko=" + A2},
			wantTwo:       []string{"aiko=" + A1, "aiko=" + A2},
			wantUnreached: "aiko=" + A2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			second := &fakeProvider{name: "two"}
			if tt.wantUnreached != "" {
				second = &fakeProvider{name: "two", failed: map[string]string{A1: "no answer", A2: "no answer"}}
			}
			clk := clock.NewFake(t0)
			d, err := New(Config{Providers: map[string]Provider{"one": tt.first, "two": second}, Attempts: 3,
				Clock: clk, Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			report, reports := collect()
			var out Outcome
			drive(t, clk, time.Second, func() {
				out = d.Dispatch(context.Background(), Request{Strategy: tt.strategy, People: tt.people},
					chainOf("one", "two"), 15*time.Minute, report)
			})
			if got := strings.Join(kinds(reports()), " "); got != tt.wantKinds {
				t.Errorf("reports:\n got %s\nwant %s", got, tt.wantKinds)
			}
			if got, want := strings.Join(numbersOf(tt.first), " | "), strings.Join(tt.wantOne, " | "); got != want {
				t.Errorf("one's requests:\n got %s\nwant %s", got, want)
			}
			if got, want := strings.Join(numbersOf(second), " | "), strings.Join(tt.wantTwo, " | "); got != want {
				t.Errorf("two's requests:\n got %s\nwant %s", got, want)
			}
			for number, want := range tt.wantReachedBy {
				if got := out.ReachedBy(number); got != want {
					t.Errorf("%s reached by %q, want %q", number, got, want)
				}
			}
			var unreached []provider.Person
			for _, u := range out.Unreached {
				unreached = append(unreached, u.Person)
				if !strings.Contains(u.Reason, u.Person.Phone) {
					t.Errorf("unreached %s: the reason %q does not name the number", u.Person.Name, u.Reason)
				}
			}
			if got := peopleOf(unreached); got != tt.wantUnreached {
				t.Errorf("unreached %s, want %s", got, tt.wantUnreached)
			}
			var notCalled []provider.Person
			for _, u := range out.NotCalled {
				notCalled = append(notCalled, u.Person)
			}
			if got := peopleOf(notCalled); got != tt.wantNotCalled {
				t.Errorf("not called %s, want %s", got, tt.wantNotCalled)
			}
			checkOneNumberEach(t, reports(), out)
		})
	}
}

// checkOneNumberEach fails t when a report or the outcome holds a person
// with more than the one number it is about.
func checkOneNumberEach(t *testing.T, reports []Report, out Outcome) {
	t.Helper()
	check := func(where string, p provider.Person) {
		if len(p.Alternates) > 0 || len(p.ByProvider) > 0 {
			t.Errorf("%s: %s comes with more than one number: %+v", where, p.Name, p)
		}
	}
	for _, r := range reports {
		for _, p := range r.People {
			check(string(r.Kind), p)
		}
		for _, u := range r.NotCalled {
			check(string(r.Kind)+" not called", u.Person)
		}
	}
	for _, res := range out.Results {
		for _, p := range res.Reached {
			check("result reached", p)
		}
		for _, u := range res.Failed {
			check("result failed", u.Person)
		}
	}
	for _, u := range out.Unreached {
		check("unreached", u.Person)
	}
}

// TestReportsNameTheNumbersTried: every report names the number it is
// about; a failure that will be tried again on the next number says which;
// the fallback names the number that failed last.
func TestReportsNameTheNumbersTried(t *testing.T) {
	one := &fakeProvider{name: "one", failed: map[string]string{A1: "not Vaild", A2: "no answer", B1: "not Vaild"}}
	two := &fakeProvider{name: "two"}
	d, err := New(Config{Providers: map[string]Provider{"one": one, "two": two}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	d.Dispatch(context.Background(), Request{Strategy: provider.Broadcast, People: []provider.Person{aiko, ben, chika}},
		chainOf("one", "two"), time.Minute, func(r Report) {
			if r.Kind == ReportAttempt {
				return
			}
			line := fmt.Sprintf("%s %s [%s]", r.Kind, r.Provider, peopleOf(r.People))
			if r.Next != "" {
				line += " → " + r.Next
			}
			if r.Err != "" {
				line += ": " + r.Err
			}
			got = append(got, line)
		})
	want := []string{
		"dispatched one [chika=" + C1 + "]",
		"dispatch_failed one [aiko=" + A1 + ",ben=" + B1 + "]: aiko: not Vaild, trying aiko's next number " + A2 +
			"; ben: not Vaild, trying ben's next number " + B2,
		"dispatched one [ben=" + B2 + "]",
		"dispatch_failed one [aiko=" + A2 + "]: aiko: no answer",
		"fallback one [aiko=" + A2 + "] → two: one did not call aiko on " + A2 + ": no answer",
		"dispatched two [aiko=" + A1 + "]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("reports:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestReportIDsStayDistinct: the engine makes an outcome's id of its kind,
// provider and attempt, so two reports of one kind and provider in one
// step must not carry the same attempt, or the second would be dropped as
// a duplicate. With further numbers a provider gets several requests.
func TestReportIDsStayDistinct(t *testing.T) {
	one := &fakeProvider{name: "one", failed: map[string]string{A1: "not Vaild", B1: "not Vaild", B2: "no answer"}}
	g := NewGuards(GuardsConfig{PerPersonPerHour: 1})
	if undo, ok := g.TakePerson(C2); !ok || undo == nil {
		t.Fatal("cannot take chika's second number")
	}
	chikaOne := provider.Person{Name: "chika", Phone: C1, Alternates: []string{C2}}
	one.failed[C1] = "not Vaild"
	d, err := New(Config{Providers: map[string]Provider{"one": one, "two": &fakeProvider{name: "two"}}, Guards: g})
	if err != nil {
		t.Fatal(err)
	}
	report, reports := collect()
	d.Dispatch(context.Background(), Request{Strategy: provider.Broadcast, People: []provider.Person{aiko, ben, chikaOne}},
		chainOf("one", "two"), time.Minute, report)
	seen := map[string]bool{}
	var kinds []string
	for _, r := range reports() {
		kinds = append(kinds, fmt.Sprintf("%s:%s:%d", r.Kind, r.Provider, r.Attempt))
		if r.Kind == ReportAttempt {
			continue
		}
		id := fmt.Sprintf("%s/%s/%d", r.Kind, r.Provider, r.Attempt)
		if seen[id] {
			t.Errorf("two reports %s", id)
		}
		seen[id] = true
	}
	// one: aiko A1, ben B1, chika C1 all refused (dispatch_failed 1);
	// then aiko A2 reached, ben B2 refused, chika C2 over the cap
	// (refused 1, dispatched 2, dispatch_failed 2); ben goes on to two.
	want := "dispatch_failed:one:1 refused:one:1 attempt:one:2 dispatched:one:2 dispatch_failed:one:2 " +
		"fallback:one:0 attempt:two:1 dispatched:two:1"
	var published []string
	for _, k := range kinds {
		if !strings.HasPrefix(k, "attempt:one:1") {
			published = append(published, k)
		}
	}
	if got := strings.Join(published, " "); got != want {
		t.Errorf("reports:\n got %s\nwant %s", got, want)
	}
}

// TestPerPersonCapCountsNumbers: the cap counts calls per number, as it
// always has. A number the provider could not call is given back; a number
// over the cap is refused, and its person is neither tried on their other
// numbers nor passed on.
func TestPerPersonCapCountsNumbers(t *testing.T) {
	clk := clock.NewFake(t0)
	g := NewGuards(GuardsConfig{PerPersonPerHour: 1, Clock: clk})
	one := &fakeProvider{name: "one", failed: map[string]string{A1: "not Vaild"}}
	two := &fakeProvider{name: "two"}
	d, err := New(Config{Providers: map[string]Provider{"one": one, "two": two}, Guards: g, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Strategy: provider.Single, People: []provider.Person{aiko}}
	// A1 refused by the provider (given back), A2 reached (counted).
	if out := d.Dispatch(context.Background(), req, chainOf("one", "two"), time.Minute, nil); out.ReachedBy(A2) != "one" {
		t.Fatalf("first dispatch: %+v", out)
	}
	// A1 is under the cap, A2 over it: two reaches aiko on A1.
	delete(one.failed, A1)
	if out := d.Dispatch(context.Background(), req, chainOf("one", "two"), time.Minute, nil); out.ReachedBy(A1) != "one" {
		t.Fatalf("second dispatch: %+v", out)
	}
	// Both numbers are at the cap now: refused on A1, not tried on A2,
	// not passed on.
	report, reports := collect()
	out := d.Dispatch(context.Background(), req, chainOf("one", "two"), time.Minute, report)
	if got := strings.Join(kinds(reports()), " "); got != "refused:one" {
		t.Errorf("third dispatch reports %s, want refused:one", got)
	}
	if len(out.Unreached) != 1 || out.Unreached[0].Person.Phone != A1 || len(two.Calls()) != 0 {
		t.Errorf("third dispatch: unreached %+v, two called %d times", out.Unreached, len(two.Calls()))
	}
	if n := len(one.Calls()); n != 3 {
		t.Errorf("one got %d requests, want 3 (A1 and A2, then A1)", n)
	}
}

// TestFurtherNumbersShareTheBudget: a provider's requests for further
// numbers share its budget, so that the next provider is tried in time; a
// request made once the budget is spent gets one attempt.
func TestFurtherNumbersShareTheBudget(t *testing.T) {
	tests := []struct {
		name string
		// slow is how long the first request takes (a rotation ringing).
		slow        time.Duration
		wantRetries bool
	}{
		{name: "budget left: retried within it", slow: 10 * time.Second, wantRetries: true},
		{name: "budget spent: one attempt", slow: 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			always := make([]error, 100)
			for i := range always {
				always[i] = errUnavailable
			}
			// The first request refuses A1 after ringing for slow; every
			// later one is 503.
			one := &fakeProvider{name: "one", failed: map[string]string{A1: "not Vaild"},
				script: append([]error{nil}, always...),
				before: func(n int, _ Request) {
					if n == 0 {
						clk.Advance(tt.slow)
					}
				}}
			two := &fakeProvider{name: "two"}
			d, err := New(Config{Providers: map[string]Provider{"one": one, "two": two}, Attempts: 100, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			var out Outcome
			const wait = 3 * time.Minute // a budget of a minute
			drive(t, clk, time.Second, func() {
				out = d.Dispatch(context.Background(), Request{Strategy: provider.Single, People: []provider.Person{aiko}},
					chainOf("one", "two"), wait, nil)
			})
			if out.ReachedBy(A1) != "two" {
				t.Fatalf("outcome %+v: want aiko reached by two on A1", out)
			}
			calls := len(one.Calls())
			if tt.wantRetries {
				if el := clk.Now().Sub(t0); el > d.Budget(wait)+time.Second {
					t.Errorf("one took %s, more than its budget %s", el, d.Budget(wait))
				}
				if calls < 3 {
					t.Errorf("one got %d requests: want A2 retried", calls)
				}
			} else if calls != 2 {
				t.Errorf("one got %d requests, want 2 (A2 once)", calls)
			}
		})
	}
}

// TestNothingMoreOnceStopped: once the escalation is acknowledged or
// resolved (Request.Stopped), the dispatcher tries neither a person's next
// number nor the next provider: they are not called, on purpose, with why.
func TestNothingMoreOnceStopped(t *testing.T) {
	for _, tt := range []struct {
		name    string
		first   *fakeProvider
		wantOne []string
	}{
		{"no next number", &fakeProvider{name: "one", failed: map[string]string{A1: "not Vaild"}}, []string{"aiko=" + A1}},
		{"no next provider", &fakeProvider{name: "one", script: []error{errBadRequest}}, []string{"aiko=" + A1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			second := &fakeProvider{name: "two"}
			clk := clock.NewFake(t0)
			d, err := New(Config{Providers: map[string]Provider{"one": tt.first, "two": second}, Attempts: 1,
				Clock: clk, Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			// Acknowledged as soon as the first request was made.
			stopped := func() bool { return len(tt.first.Calls()) > 0 }
			var out Outcome
			drive(t, clk, time.Second, func() {
				out = d.Dispatch(context.Background(), Request{Strategy: provider.Single, People: []provider.Person{aiko}, Stopped: stopped},
					chainOf("one", "two"), 15*time.Minute, nil)
			})
			if got := numbersOf(tt.first); strings.Join(got, " ") != strings.Join(tt.wantOne, " ") {
				t.Fatalf("first provider asked for %v, want %v", got, tt.wantOne)
			}
			if n := len(second.Calls()); n != 0 {
				t.Fatalf("the next provider was asked %d times after the escalation stopped", n)
			}
			if len(out.NotCalled) != 1 || out.NotCalled[0].Person.Name != "aiko" || !strings.Contains(out.NotCalled[0].Reason, "acknowledged or resolved") ||
				len(out.Unreached) != 0 {
				t.Fatalf("outcome %+v, want aiko not called on purpose", out)
			}
		})
	}
}
