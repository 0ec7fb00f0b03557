package policy

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/yamlx"
)

// recorder is a provider Kind that keeps the step each via entry of it is
// checked against.
type recorder struct{ steps *[]provider.Step }

type recorded struct{}

func (recorded) Provider() string { return "rec" }

func (recorder) Name() string { return "rec" }

func (k recorder) Decode(_ *yamlx.Decoder, _, _ *yaml.Node, _ string, step provider.Step) provider.Settings {
	*k.steps = append(*k.steps, step)
	return recorded{}
}

// TestRoundRobin: a round_robin step's run carries every candidate in a
// fixed order and the key of its position; the provider checks it as a
// single call of one of them.
func TestRoundRobin(t *testing.T) {
	set := loadShared(t)
	db, _ := set.Get("db")
	web, _ := set.Get("web")
	tests := []struct {
		name   string
		p      *Policy
		step   int
		at     string
		people []string
		key    string
	}{
		{"a shared roster: its members, base then layer", db, 2, "2026-03-09T10:00:00", []string{"aiko", "kenji", "yuki", "noa", "ren"}, "roster/db-primary"},
		{"the order does not move with the hand-offs", db, 2, "2026-03-14T12:00:00", []string{"aiko", "kenji", "yuki", "noa", "ren"}, "roster/db-primary"},
		{"nor on a holiday", db, 2, "2026-03-20T10:00:00", []string{"aiko", "kenji", "yuki", "noa", "ren"}, "roster/db-primary"},
		{"a list", web, 0, "2026-03-09T10:00:00", []string{"ren", "noa", "sora"}, "policy/web/step/0"},
		{"the policy's own roster", web, 1, "2026-03-10T10:00:00", []string{"sora", "aiko"}, "policy/web/roster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := jst(t, tt.at)
			st := State{Status: Active, Step: tt.step - 1, StartedAt: now, NextAt: now}
			if tt.step == 0 {
				st = State{}
			}
			in := Input{Kind: Timer, At: now}
			if tt.step == 0 {
				in = Input{Kind: Start}
			}
			d := Plan(tt.p, st, in, now)
			if d.Run == nil || d.Run.Step != tt.step {
				t.Fatalf("run %+v, skipped %+v", d.Run, d.Skipped)
			}
			if !reflect.DeepEqual(names(d.Run.People), tt.people) || d.Run.Strategy != provider.RoundRobin || d.Run.RoundRobin != tt.key {
				t.Errorf("run: %q %s %q; want %q round_robin %q", names(d.Run.People), d.Run.Strategy, d.Run.RoundRobin, tt.people, tt.key)
			}
		})
	}
	// Other steps carry no key.
	d := Plan(db, State{}, Input{Kind: Start}, jst(t, "2026-03-09T10:00:00"))
	if d.Run == nil || d.Run.RoundRobin != "" || d.Run.Strategy != provider.Broadcast {
		t.Errorf("step 1: %+v", d.Run)
	}
	if b, _ := json.Marshal(d.Run); bytes.Contains(b, []byte("round_robin")) {
		t.Errorf("a step that is not round_robin writes its key: %s", b)
	}

	// What the provider is asked to check: one of the candidates, as single.
	var steps []provider.Step
	opt := Options{Providers: provider.Kinds{recorder{&steps}}}
	y := "people:\n  a: {phone: '+81 80-1234-5678'}\n  b: {phone: '+81 90-1111-2222'}\n  c: {phone: '+81 70-1234-5678'}\n---\n" +
		"roster: r\nlayers: [{people: [a, b], on_call: 2}, {people: [c]}]\n---\n" +
		"name: p\nsteps:\n" +
		"  - {notify: {roster: r}, strategy: round_robin, via: [{rec: {}}], wait: 1m}\n" +
		"  - {notify: [c, a], strategy: round_robin, via: [{rec: {}}], wait: 1m}\n" +
		"  - {notify: {oncall: r}, strategy: broadcast, via: [{rec: {}}], wait: 1m}\n" +
		"  - {notify: {roster: r}, strategy: rotation, via: [{rec: {}}], wait: 1m}\n"
	if _, err := ParseFileWith(opt, "x.yaml", []byte(y)); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		strategy provider.Strategy
		atOnce   int
		people   []string
	}{
		{provider.Single, 1, []string{"a", "b", "c"}},
		{provider.Single, 1, []string{"c", "a"}},
		{provider.Broadcast, 2, []string{"a", "b", "c"}},
		{provider.Rotation, 3, []string{"a", "b", "c"}},
	}
	if len(steps) != len(want) {
		t.Fatalf("%d steps checked, want %d", len(steps), len(want))
	}
	for i, w := range want {
		if s := steps[i]; s.Strategy != w.strategy || s.AtOnce != w.atOnce || !reflect.DeepEqual(names(s.People), w.people) {
			t.Errorf("step %d checked as %s, %d at once, %q; want %s, %d, %q", i, s.Strategy, s.AtOnce, names(s.People), w.strategy, w.atOnce, w.people)
		}
	}
}

// TestRoundRobinNobody: a round_robin step whose candidates are nobody is
// skipped like any empty step.
func TestRoundRobinNobody(t *testing.T) {
	set := loadShared(t)
	web, _ := set.Get("web")
	p := *web
	p.Roster = &Roster{Rotation: Rotation{People: []string{}}}
	p.Steps = []Step{p.Steps[1], p.Steps[0]}
	d := Plan(&p, State{}, Input{Kind: Start}, jst(t, "2026-03-09T10:00:00"))
	want := []SkippedStep{{Step: 0, Reason: "the roster has no rotation people to go round"}}
	if !reflect.DeepEqual(d.Skipped, want) || d.Run == nil || d.Run.Step != 1 || d.Run.RoundRobin != "policy/web/step/1" {
		t.Errorf("skipped %+v, run %+v", d.Skipped, d.Run)
	}
}

// TestSnapshot: a policy that uses shared people and rosters carries them,
// and its JSON snapshot plans and resolves the same at every moment:
// either side of the layer's window, of its hand-offs, and of overrides.
func TestSnapshot(t *testing.T) {
	set := loadShared(t)
	moments := []string{
		"2026-03-09T08:59:59", "2026-03-09T09:00:00", "2026-03-09T17:59:59", "2026-03-09T18:00:00",
		"2026-03-14T12:00:00", "2026-03-19T23:59:59", "2026-03-20T00:00:00", "2026-03-20T10:00:00",
		"2026-03-23T11:59:59", "2026-03-23T12:00:00", "2026-03-23T12:59:59", "2026-03-23T13:00:00",
		"2026-12-28T09:00:00", "2027-01-04T08:59:59", "2027-01-04T09:00:00",
	}
	for _, p := range set.Policies {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var q Policy
		if err := json.Unmarshal(b, &q); err != nil {
			t.Fatal(err)
		}
		if b2, _ := json.Marshal(&q); !bytes.Equal(b, b2) {
			t.Errorf("%s: the round trip changed the snapshot:\n%s\n%s", p.Name, b, b2)
		}
		for _, m := range moments {
			now := jst(t, m)
			for i, s := range p.Steps {
				want, why := p.Resolve(s.Notify, now)
				got, why2 := q.Resolve(s.Notify, now)
				if !reflect.DeepEqual(got, want) || why != why2 {
					t.Errorf("%s step %d at %s: snapshot resolves %q (%s), the policy %q (%s)", p.Name, i, m, names(got), why2, names(want), why)
				}
			}
			st := State{}
			in := Input{Kind: Start}
			for range len(p.Steps) + 1 {
				d1, d2 := Plan(p, st, in, now), Plan(&q, st, in, now)
				j1, _ := json.Marshal(d1)
				j2, _ := json.Marshal(d2)
				if !bytes.Equal(j1, j2) {
					t.Errorf("%s at %s: the snapshot plans\n%s\nthe policy\n%s", p.Name, m, j2, j1)
				}
				if d1.State.Finished() {
					break
				}
				st, in = d1.State, Input{Kind: Timer, At: d1.NextAt}
				now = d1.NextAt
			}
		}
		for name, r := range p.Rosters {
			for _, m := range moments {
				a, b := r.OnCallAt(jst(t, m), 3), q.Rosters[name].OnCallAt(jst(t, m), 3)
				ja, _ := json.Marshal(a)
				jb, _ := json.Marshal(b)
				if !bytes.Equal(ja, jb) {
					t.Errorf("%s: roster %s at %s:\n%s\nsnapshot:\n%s", p.Name, name, m, ja, jb)
				}
			}
		}
	}
	// An edit of the shared roster does not reach the snapshot.
	db, _ := set.Get("db")
	b, _ := json.Marshal(db)
	var q Policy
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	set.Rosters[0].Layers = nil
	now := jst(t, "2026-03-09T10:00:00")
	if got, _ := q.Resolve(q.Steps[0].Notify, now); !reflect.DeepEqual(names(got), []string{"noa", "ren"}) {
		t.Errorf("the snapshot calls %q", names(got))
	}
}
