package policy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/escalator-oss/escalator/internal/provider"
)

// rawFile is one file as read, before its names are checked against the
// people and rosters of every file (link).
type rawFile struct {
	d          *decoder
	policies   []*rawPolicy
	heartbeats []*Heartbeat
	people     []*PeopleFile
	rosters    []*rawRoster
	// defs are every definition of a person in the file, people files'
	// and policies' own, in the order written.
	defs []personDef
}

// rawPolicy is a policy as read, with its own people and roster, and its
// steps' names, checked by link.
type rawPolicy struct {
	p      *Policy
	d      *decoder
	own    []personDef
	roster *rawRoster
	steps  []*rawStep
}

// linker holds the people and rosters every policy may name.
type linker struct {
	// shared are the people of the people files, by name (the first
	// definition).
	shared map[string]personDef
	// own are the people some policy defines for itself, by name (the
	// first), for a hint when a shared roster names one.
	own map[string]personDef
	// rosters are the shared rosters by name (the first).
	rosters map[string]*rawRoster
}

// link checks every name in files against the people and rosters they
// define — people files and shared rosters serve every policy of every file
// — and completes each policy with the shared people and rosters it uses.
// Problems go to each file's decoder.
func link(files []*rawFile) File {
	l := &linker{shared: map[string]personDef{}, own: map[string]personDef{}, rosters: map[string]*rawRoster{}}
	var out File
	// People: every definition of a name must give the same numbers.
	first := map[string]personDef{}
	for _, f := range files {
		for _, def := range f.defs {
			name := def.person.Name
			if def.policy == "" {
				if _, ok := l.shared[name]; !ok {
					l.shared[name] = def
				}
			} else if _, ok := l.own[name]; !ok {
				l.own[name] = def
			}
			prev, ok := first[name]
			if !ok {
				first[name] = def
				continue
			}
			if !samePerson(prev.person, def.person) {
				def.d.Add(def.n, def.path, "%q is defined with other numbers in %s (%s there, %s here): define each person once, in a people file, or give every definition the same numbers",
					name, prev.where(), describeNumbers(prev.person), describeNumbers(def.person))
			}
		}
		out.People = append(out.People, f.people...)
	}
	// Shared rosters: unique names, people of the people files only.
	for _, f := range files {
		for _, rr := range f.rosters {
			r := rr.r
			if r.Name == "" {
				continue
			}
			if prev, dup := l.rosters[r.Name]; dup {
				rr.d.Problems = append(rr.d.Problems, problemAt(r.pos, fmt.Sprintf("duplicate roster name %q (also in %s)", r.Name, where(prev.r.pos))))
				continue
			}
			l.rosters[r.Name] = rr
			out.Rosters = append(out.Rosters, r)
		}
	}
	for _, f := range files {
		for _, rr := range f.rosters {
			for _, rf := range rr.refs {
				if _, ok := l.shared[rf.name]; ok {
					continue
				}
				if def, ok := l.own[rf.name]; ok {
					rr.d.Add(rf.n, rf.path, "undefined person %q: a shared roster names people of the people files only (%q is policy %s's own, %s): move it to a people file",
						rf.name, rf.name, def.policy, def.where())
					continue
				}
				rr.d.Add(rf.n, rf.path, "undefined person %q (define it in a people file)", rf.name)
			}
		}
	}
	for _, f := range files {
		for _, rp := range f.policies {
			l.policy(rp)
			out.Policies = append(out.Policies, rp.p)
		}
		out.Heartbeats = append(out.Heartbeats, f.heartbeats...)
	}
	return out
}

// policy checks a policy's names: its steps' people and rosters and its
// own roster's people, against its own people and the shared ones. It
// fills in the people and shared rosters the policy uses (its snapshot
// must hold them), then decodes its via entries.
func (l *linker) policy(rp *rawPolicy) {
	p, d := rp.p, rp.d
	p.People = make(map[string]provider.Person, len(rp.own))
	for _, def := range rp.own {
		if _, dup := p.People[def.person.Name]; !dup {
			p.People[def.person.Name] = def.person
		}
	}
	use := func(rf ref) {
		if _, ok := p.People[rf.name]; ok {
			return
		}
		if def, ok := l.shared[rf.name]; ok {
			p.People[rf.name] = def.person
			return
		}
		d.Add(rf.n, rf.path, "undefined person %q (define it under people, or in a people file)", rf.name)
	}
	if rp.roster != nil {
		for _, rf := range rp.roster.refs {
			use(rf)
		}
	}
	for _, rs := range rp.steps {
		for _, rf := range rs.refs {
			use(rf)
		}
		if rs.roster == nil {
			continue
		}
		rr, ok := l.rosters[rs.roster.name]
		if !ok {
			d.Add(rs.roster.n, rs.roster.path, "unknown roster %q (%s)", rs.roster.name, l.known())
			continue
		}
		if p.Rosters == nil {
			p.Rosters = map[string]*Roster{}
		}
		p.Rosters[rr.r.Name] = rr.r
		for _, name := range rr.r.Everyone() {
			if def, ok := l.shared[name]; ok {
				p.People[name] = def.person
			}
		}
	}
	for _, rs := range rp.steps {
		d.linkStep(rs, p)
	}
}

// known lists the shared rosters' names for a problem.
func (l *linker) known() string {
	if len(l.rosters) == 0 {
		return "no roster is defined: a file whose top-level key is roster: <name> defines one"
	}
	names := make([]string, 0, len(l.rosters))
	for n := range l.rosters {
		names = append(names, n)
	}
	sort.Strings(names)
	return "the rosters are " + strings.Join(names, ", ")
}

// describeNumbers writes a person's numbers for a problem: "+8180…, +8190…;
// yemot +97252…".
func describeNumbers(p provider.Person) string {
	s := strings.Join(append([]string{p.Phone}, p.Alternates...), ", ")
	for _, k := range sortedKeys(p.ByProvider) {
		s += "; " + k + " " + strings.Join(p.ByProvider[k], ", ")
	}
	return s
}

// where writes a position as file:line:col (or the file alone).
func where(p Problem) string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
	}
	return p.File
}

// problemAt is the problem msg at pos.
func problemAt(pos Problem, msg string) Problem {
	pos.Msg = msg
	return pos
}

// plural writes "1 person", "2 people".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
