package policy

import (
	"fmt"
	"sort"

	"github.com/escalator-oss/escalator/internal/alert"
)

// Set is a validated set of policies, ordered the way they are matched:
// higher priority first, ties by name.
type Set struct {
	// Policies in match order.
	Policies []*Policy `json:"policies"`
	// Heartbeats are the heartbeat monitors, by name order.
	Heartbeats []*Heartbeat `json:"heartbeats,omitempty"`
	// People are the people files, in the order read.
	People []*PeopleFile `json:"people,omitempty"`
	// Rosters are the shared rosters, by name order.
	Rosters []*Roster `json:"rosters,omitempty"`
}

// NewFileSet is NewSet of f's policies and heartbeat monitors, with its
// people files and shared rosters (whose names link has checked).
func NewFileSet(f File) (*Set, error) {
	s, err := NewSet(f.Policies, f.Heartbeats...)
	if err != nil {
		return nil, err
	}
	s.People = f.People
	s.Rosters = append([]*Roster(nil), f.Rosters...)
	sort.SliceStable(s.Rosters, func(i, j int) bool { return s.Rosters[i].Name < s.Rosters[j].Name })
	return s, nil
}

// Roster returns the shared roster named name.
func (s *Set) Roster(name string) (*Roster, bool) {
	for _, r := range s.Rosters {
		if r.Name == name {
			return r, true
		}
	}
	return nil, false
}

// NewSet orders policies for matching and heartbeats by name, and checks
// that the names of each are unique. The error, when not nil, is Problems.
func NewSet(policies []*Policy, heartbeats ...*Heartbeat) (*Set, error) {
	var probs Problems
	first := map[string]*Policy{}
	for _, p := range policies {
		if p.Name == "" {
			continue
		}
		if prev, dup := first[p.Name]; dup {
			pr := p.pos
			if pr.File == "" {
				pr = Problem{File: p.File, Path: "name"}
			}
			pr.Msg = fmt.Sprintf("duplicate policy name %q (also in %s)", p.Name, prev.where())
			probs = append(probs, pr)
			continue
		}
		first[p.Name] = p
	}
	beats, bp := sortHeartbeats(heartbeats)
	probs = append(probs, bp...)
	if err := probs.Err(); err != nil {
		return nil, err
	}
	s := &Set{Policies: append([]*Policy(nil), policies...)}
	if len(beats) > 0 {
		s.Heartbeats = beats
	}
	sort.SliceStable(s.Policies, func(i, j int) bool {
		a, b := s.Policies[i], s.Policies[j]
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return a.Name < b.Name
	})
	return s, nil
}

func (p *Policy) where() string {
	if p.pos.Line > 0 {
		return fmt.Sprintf("%s:%d:%d", p.pos.File, p.pos.Line, p.pos.Column)
	}
	return p.File
}

// Get returns the policy named name.
func (s *Set) Get(name string) (*Policy, bool) {
	for _, p := range s.Policies {
		if p.Name == name {
			return p, true
		}
	}
	return nil, false
}

// Match returns the policy that takes ev: the first, in match order, whose
// conditions all hold. ok is false when none does.
func (s *Set) Match(ev alert.Event) (*Policy, bool) {
	for _, p := range s.Policies {
		if p.Match.Matches(ev) {
			return p, true
		}
	}
	return nil, false
}

// Verdict is one policy's answer to an alert, for explaining a match.
type Verdict struct {
	Policy  string   `json:"policy"`
	Matched bool     `json:"matched"`
	Reasons []string `json:"reasons"`
}

// Explain returns, in match order, each policy's verdict on ev up to and
// including the one that matches: why it matched, or why it did not.
func (s *Set) Explain(ev alert.Event) []Verdict {
	var out []Verdict
	for _, p := range s.Policies {
		ok, why := p.Match.Explain(ev)
		out = append(out, Verdict{Policy: p.Name, Matched: ok, Reasons: why})
		if ok {
			break
		}
	}
	return out
}

// Strict reports every step that uses a provider not in configured (keyed by
// provider name). policy check --strict and the worker use it.
func (s *Set) Strict(configured map[string]bool) Problems {
	return strict(s.Policies, configured)
}

func strict(policies []*Policy, configured map[string]bool) Problems {
	var probs Problems
	for _, p := range policies {
		for i, st := range p.Steps {
			for j, v := range st.Via {
				if configured[v.Provider] {
					continue
				}
				var pr Problem
				if j < len(st.viaPos) {
					pr = st.viaPos[j]
				}
				if pr.File == "" {
					pr = Problem{File: p.File, Path: fmt.Sprintf("steps[%d].via[%d].%s", i, j, v.Provider)}
				}
				pr.Msg = fmt.Sprintf("provider %s is not configured on this worker", v.Provider)
				probs = append(probs, pr)
			}
		}
	}
	probs.Sort()
	return probs
}
