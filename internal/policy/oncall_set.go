package policy

import (
	"slices"
	"sort"
	"time"
)

// RosterOnCall is one roster of a set with who is on call in it: what
// `escalator oncall` prints.
type RosterOnCall struct {
	// Name is a shared roster's name, or the policy's name for a policy's
	// own roster.
	Name string `json:"name"`
	// Policy is the policy whose own roster it is ("" for a shared roster).
	Policy      string `json:"policy,omitempty"`
	File        string `json:"file"`
	Description string `json:"description,omitempty"`
	// UsedBy are the policies whose steps use it, by name.
	UsedBy []string `json:"used_by"`
	OnCall
}

// OnCallQuery says which rosters Set.OnCallAt reports, and how far ahead.
type OnCallQuery struct {
	// Roster, when not empty, is the only roster reported: a shared roster
	// of that name, or the own roster of the policy of that name.
	Roster string
	// Policy, when not empty, reports only the rosters that policy uses:
	// its own and the shared ones its steps name.
	Policy string
	// Next is how many hand-offs after the current shift to list.
	Next int
}

// OnCallAt returns who is on call at t in every roster of s that q
// selects: the shared rosters by name, then each policy's own roster, by
// policy name.
func (s *Set) OnCallAt(t time.Time, q OnCallQuery) []RosterOnCall {
	used := map[string][]string{}
	var owners []*Policy
	for _, p := range s.Policies {
		for name := range p.Rosters {
			used[name] = append(used[name], p.Name)
		}
		if p.Roster != nil {
			owners = append(owners, p)
		}
	}
	sort.Slice(owners, func(i, j int) bool { return owners[i].Name < owners[j].Name })
	var pol *Policy
	if q.Policy != "" {
		var ok bool
		if pol, ok = s.Get(q.Policy); !ok {
			return nil
		}
	}
	out := []RosterOnCall{}
	for _, r := range s.Rosters {
		if q.Roster != "" && q.Roster != r.Name || pol != nil && pol.Rosters[r.Name] == nil {
			continue
		}
		users := used[r.Name]
		sort.Strings(users)
		out = append(out, RosterOnCall{Name: r.Name, File: r.File, Description: r.Description,
			UsedBy: nonNil(users), OnCall: r.OnCallAt(t, q.Next)})
	}
	for _, p := range owners {
		if q.Roster != "" && q.Roster != p.Name || pol != nil && pol != p {
			continue
		}
		users := []string{}
		if slices.ContainsFunc(p.Steps, func(st Step) bool { return st.Notify.Kind != NotifyPeople && st.Notify.Roster == "" }) {
			users = []string{p.Name}
		}
		out = append(out, RosterOnCall{Name: p.Name, Policy: p.Name, File: p.File, UsedBy: users,
			OnCall: p.Roster.OnCallAt(t, q.Next)})
	}
	return out
}

// RosterOf returns the roster a step's notify resolves: the shared roster
// it names, or the policy's own; nil when there is none.
func (p *Policy) RosterOf(nt Notify) *Roster { return p.rosterOf(nt) }
