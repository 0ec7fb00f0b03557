package policy

import (
	"slices"
	"strconv"
	"strings"

	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/yamlx"
	"go.yaml.in/yaml/v3"
)

var stepKeys = []string{"notify", "strategy", "stop_on_answer", "pass_on", "via", "wait"}

// rawStep is a step as read: the names and the roster it notifies, and its
// via entries, checked and decoded when the files are linked.
type rawStep struct {
	i      int
	path   string
	n      *yaml.Node
	notify *yaml.Node
	refs   []ref // the people listed
	roster *ref  // the shared roster named
	via    *yaml.Node
}

// step reads one step. Its people, its roster and its via entries are
// checked by link.
func (d *decoder) step(n *yaml.Node, path string, rp *rawPolicy) (Step, *rawStep) {
	var s Step
	rs := &rawStep{path: path, n: n}
	f, _, ok := d.Fields(n, path, stepKeys...)
	if !ok {
		return s, rs
	}
	if v := f["notify"]; v == nil {
		d.Add(n, yamlx.Join(path, "notify"), "is required: a list of people, oncall, roster, {oncall: <roster>} or {roster: <roster>}")
	} else {
		rs.notify = v
		s.Notify = d.notify(v, yamlx.Join(path, "notify"), rp, rs)
	}
	s.Strategy = provider.Single
	if v := f["strategy"]; v != nil {
		if st, ok := d.Str(v, yamlx.Join(path, "strategy")); ok {
			switch provider.Strategy(st) {
			case provider.Single, provider.Broadcast, provider.Rotation, provider.RoundRobin:
				s.Strategy = provider.Strategy(st)
			default:
				d.Add(v, yamlx.Join(path, "strategy"), "must be single, broadcast, rotation or round_robin, got %q", st)
			}
			if s.Strategy == provider.RoundRobin && s.Notify.Kind == NotifyOnCall {
				d.Add(v, yamlx.Join(path, "strategy"), "round_robin calls one person per escalation, in turn, from a list or a roster; "+
					"oncall is already one choice: notify a roster ({roster: <roster>} or roster) to go round it, or use strategy single")
			}
		}
	}
	if v := f["stop_on_answer"]; v != nil {
		s.StopOnAnswer = d.Bool(v, yamlx.Join(path, "stop_on_answer"))
		if s.StopOnAnswer && s.Strategy != provider.Broadcast {
			d.Add(v, yamlx.Join(path, "stop_on_answer"), "applies only to strategy broadcast, not %s", s.Strategy)
		}
	}
	if v := f["pass_on"]; v != nil {
		s.PassOn = d.Bool(v, yamlx.Join(path, "pass_on"))
		if s.PassOn && s.Strategy != provider.Rotation {
			d.Add(v, yamlx.Join(path, "pass_on"), "applies only to strategy rotation, not %s", s.Strategy)
		}
	}
	if v := f["wait"]; v == nil {
		d.Add(n, yamlx.Join(path, "wait"), "is required: how long to wait for an acknowledgement, e.g. 5m")
	} else if w, ok := d.Duration(v, yamlx.Join(path, "wait")); ok {
		switch {
		case w <= 0:
			d.Add(v, yamlx.Join(path, "wait"), "must be positive")
		case w < MinWait:
			d.Add(v, yamlx.Join(path, "wait"), "must be at least %s, got %s", MinWait, w)
		}
		s.Wait = w
	}
	if v := f["via"]; v == nil {
		d.Add(n, yamlx.Join(path, "via"), "is required: the providers to call through, in fallback order")
	} else {
		rs.via = v
	}
	return s, rs
}

func (d *decoder) notify(n *yaml.Node, path string, rp *rawPolicy, rs *rawStep) Notify {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str" && (n.Value == NotifyOnCall || n.Value == NotifyRoster):
		if rp.p.Roster == nil {
			d.Add(n, path, "%s needs a roster: define one under roster, or name a shared one: {%s: <roster>}", n.Value, n.Value)
		}
		return Notify{Kind: n.Value}
	case n.Kind == yaml.MappingNode:
		f, _, ok := d.Fields(n, path, NotifyOnCall, NotifyRoster)
		if !ok {
			return Notify{}
		}
		if len(f) != 1 {
			if len(f) > 1 || len(n.Content) == 0 {
				d.Add(n, path, "must name one shared roster: {oncall: <roster>} (who is on call in it) or {roster: <roster>} (the whole roster)")
			}
			return Notify{}
		}
		for kind, v := range f {
			name, ok := d.NonEmpty(v, yamlx.Join(path, kind))
			if !ok {
				return Notify{}
			}
			rs.roster = &ref{name: name, n: v, path: yamlx.Join(path, kind)}
			return Notify{Kind: kind, Roster: name}
		}
	case n.Kind != yaml.SequenceNode:
		d.Add(n, path, "must be a list of people, oncall, roster, {oncall: <roster>} or {roster: <roster>}, got %s", yamlx.Describe(n))
		return Notify{}
	}
	nt := Notify{Kind: NotifyPeople}
	items, _ := d.List(n, path)
	if len(items) == 0 {
		d.Add(n, path, "must name at least one person")
	}
	for i, it := range items {
		name, ok := d.NonEmpty(it, yamlx.Index(path, i))
		if !ok {
			continue
		}
		if slices.Contains(nt.People, name) {
			d.Add(it, yamlx.Index(path, i), "%q is listed twice", name)
			continue
		}
		nt.People = append(nt.People, name)
		rs.refs = append(rs.refs, ref{name: name, n: it, path: yamlx.Index(path, i)})
	}
	return nt
}

// rosterOf returns the roster a step's notify resolves: the shared roster
// it names, or the policy's own; nil when it has none.
func (p *Policy) rosterOf(nt Notify) *Roster {
	if nt.Roster != "" {
		return p.Rosters[nt.Roster]
	}
	return p.Roster
}

// stepTargets returns everyone a step may call: its listed people, or
// everyone its roster may put on call (overrides included).
func stepTargets(nt Notify, p *Policy) []string {
	switch nt.Kind {
	case NotifyPeople:
		return nt.People
	case NotifyOnCall, NotifyRoster:
		return p.rosterOf(nt).Everyone()
	}
	return nil
}

// callCount is how many people a step calls at once at most.
func callCount(s Step, p *Policy) int {
	if s.Strategy == provider.RoundRobin {
		return min(1, len(persons(candidates(s.Notify, p), p.People)))
	}
	switch s.Notify.Kind {
	case NotifyPeople:
		return len(persons(s.Notify.People, p.People))
	case NotifyOnCall:
		return p.rosterOf(s.Notify).MaxOnCall()
	case NotifyRoster:
		r := p.rosterOf(s.Notify)
		members := r.Members()
		n := len(members)
		if r == nil {
			return n
		}
		for _, o := range r.Overrides {
			k := len(members)
			for _, name := range o.Who() {
				if !slices.Contains(members, name) {
					k++
				}
			}
			n = max(n, k)
		}
		return n
	}
	return 0
}

// candidates returns the people a round_robin step goes round, in a fixed
// order: the list's, or the roster's members in definition order (base,
// then layers, each once).
func candidates(nt Notify, p *Policy) []string {
	switch nt.Kind {
	case NotifyPeople:
		return nt.People
	case NotifyRoster:
		return p.rosterOf(nt).Members()
	}
	return nil
}

// roundRobinKey is the key of the position the engine keeps for a
// round_robin step's candidates.
func roundRobinKey(p *Policy, step int, nt Notify) string {
	switch {
	case nt.Kind == NotifyRoster && nt.Roster != "":
		return "roster/" + nt.Roster
	case nt.Kind == NotifyRoster:
		return "policy/" + p.Name + "/roster"
	}
	return "policy/" + p.Name + "/step/" + strconv.Itoa(step)
}

// linkStep checks what a step's people and roster allow, then decodes its
// via entries with what it will call.
func (d *decoder) linkStep(rs *rawStep, p *Policy) {
	s := &p.Steps[rs.i]
	path := rs.path
	if rs.notify != nil && s.Strategy == provider.Single {
		if n := callCount(*s, p); n > 1 {
			switch {
			case s.Notify.Kind == NotifyRoster:
				d.Add(rs.notify, yamlx.Join(path, "notify"), "strategy single calls one person, but the roster has %d: notify oncall instead", n)
			case s.Notify.Kind == NotifyOnCall:
				d.Add(rs.notify, yamlx.Join(path, "notify"), "strategy single calls one person, but the roster may have %d on call at once: use broadcast or rotation", n)
			default:
				d.Add(rs.notify, yamlx.Join(path, "notify"), "strategy single calls one person, but %d are listed: use broadcast or rotation", n)
			}
		}
	}
	if rs.via == nil {
		return
	}
	items, ok := d.List(rs.via, yamlx.Join(path, "via"))
	if !ok {
		return
	}
	if len(items) == 0 {
		d.Add(rs.via, yamlx.Join(path, "via"), "must name at least one provider")
	}
	step := provider.Step{Strategy: s.Strategy, StopOnAnswer: s.StopOnAnswer, PassOn: s.PassOn,
		AtOnce: callCount(*s, p), People: persons(stepTargets(s.Notify, p), p.People)}
	if s.Strategy == provider.RoundRobin {
		// The engine picks one of the candidates and places it as single.
		step.Strategy = provider.Single
		step.People = persons(candidates(s.Notify, p), p.People)
	}
	for i, it := range items {
		if via, pos, ok := d.via(it, yamlx.Index(yamlx.Join(path, "via"), i), step); ok {
			s.Via, s.viaPos = append(s.Via, via), append(s.viaPos, pos)
		}
	}
}

func (d *decoder) via(n *yaml.Node, path string, step provider.Step) (provider.Via, Problem, bool) {
	names := d.providers.Names()
	f, keys, ok := d.Fields(n, path, names...)
	if !ok {
		return provider.Via{}, Problem{}, false
	}
	if len(f) != 1 {
		d.Add(n, path, "must name exactly one provider (%s), got %d", orList(names), len(f))
		return provider.Via{}, Problem{}, false
	}
	for name, v := range f {
		vp := yamlx.Join(path, name)
		settings := d.providers.Lookup(name).Decode(d.Decoder, v, keys[name], vp, step)
		return provider.Via{Provider: name, Settings: settings}, d.Pos(keys[name], vp), true
	}
	return provider.Via{}, Problem{}, false
}

// orList writes names as "a, b or c".
func orList(names []string) string {
	switch len(names) {
	case 0:
		return "none known"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// persons are the people of names that people defines, in order.
func persons(names []string, people map[string]provider.Person) []provider.Person {
	var out []provider.Person
	for _, n := range names {
		if pp, ok := people[n]; ok {
			out = append(out, pp)
		}
	}
	return out
}
