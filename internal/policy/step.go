package policy

import (
	"slices"
	"strings"

	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/yamlx"
	"go.yaml.in/yaml/v3"
)

var stepKeys = []string{"notify", "strategy", "stop_on_answer", "pass_on", "via", "wait"}

func (d *decoder) step(n *yaml.Node, path string, p *Policy) Step {
	var s Step
	f, _, ok := d.Fields(n, path, stepKeys...)
	if !ok {
		return s
	}
	if v := f["notify"]; v == nil {
		d.Add(n, yamlx.Join(path, "notify"), "is required: a list of people, oncall or roster")
	} else {
		s.Notify = d.notify(v, yamlx.Join(path, "notify"), p)
	}
	s.Strategy = provider.Single
	if v := f["strategy"]; v != nil {
		if st, ok := d.Str(v, yamlx.Join(path, "strategy")); ok {
			switch provider.Strategy(st) {
			case provider.Single, provider.Broadcast, provider.Rotation:
				s.Strategy = provider.Strategy(st)
			default:
				d.Add(v, yamlx.Join(path, "strategy"), "must be single, broadcast or rotation, got %q", st)
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
	targets := stepTargets(s.Notify, p)
	if n := callCount(s.Notify, targets); s.Strategy == provider.Single && n > 1 {
		if s.Notify.Kind == NotifyRoster {
			d.Add(f["notify"], yamlx.Join(path, "notify"), "strategy single calls one person, but the roster has %d: notify oncall instead", n)
		} else {
			d.Add(f["notify"], yamlx.Join(path, "notify"), "strategy single calls one person, but %d are listed: use broadcast or rotation", n)
		}
	}
	if v := f["via"]; v == nil {
		d.Add(n, yamlx.Join(path, "via"), "is required: the providers to call through, in fallback order")
	} else if items, ok := d.List(v, yamlx.Join(path, "via")); ok {
		if len(items) == 0 {
			d.Add(v, yamlx.Join(path, "via"), "must name at least one provider")
		}
		for i, it := range items {
			if via, pos, ok := d.via(it, yamlx.Index(yamlx.Join(path, "via"), i), s, targets, p); ok {
				s.Via, s.viaPos = append(s.Via, via), append(s.viaPos, pos)
			}
		}
	}
	return s
}

func (d *decoder) notify(n *yaml.Node, path string, p *Policy) Notify {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		switch n.Value {
		case NotifyOnCall, NotifyRoster:
			if p.Roster == nil {
				d.Add(n, path, "%s needs a roster: define one under roster", n.Value)
			}
			return Notify{Kind: n.Value}
		}
	}
	if n.Kind != yaml.SequenceNode {
		d.Add(n, path, "must be a list of people, oncall or roster, got %s", yamlx.Describe(n))
		return Notify{}
	}
	nt := Notify{Kind: NotifyPeople}
	seen := map[string]bool{}
	items, _ := d.List(n, path)
	if len(items) == 0 {
		d.Add(n, path, "must name at least one person")
	}
	for i, it := range items {
		name, ok := d.person(it, yamlx.Index(path, i), p.People)
		if !ok {
			continue
		}
		if seen[name] {
			d.Add(it, yamlx.Index(path, i), "%q is listed twice", name)
			continue
		}
		seen[name] = true
		nt.People = append(nt.People, name)
	}
	return nt
}

// stepTargets returns everyone a step may call: its listed people, the
// roster's people, or anyone who may be on call (overrides included).
func stepTargets(nt Notify, p *Policy) []string {
	switch nt.Kind {
	case NotifyPeople:
		return nt.People
	case NotifyOnCall, NotifyRoster:
		if p.Roster == nil {
			return nil
		}
		var out []string
		for _, name := range p.Roster.People {
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
		return out
	}
	return nil
}

// callCount is how many people a step calls at once at most.
func callCount(nt Notify, targets []string) int {
	if nt.Kind == NotifyOnCall {
		return min(1, len(targets))
	}
	return len(targets)
}

func (d *decoder) via(n *yaml.Node, path string, s Step, targets []string, p *Policy) (provider.Via, Problem, bool) {
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
		step := provider.Step{Strategy: s.Strategy, StopOnAnswer: s.StopOnAnswer, PassOn: s.PassOn,
			AtOnce: callCount(s.Notify, targets), People: persons(everyone(s.Notify, targets, p), p.People)}
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

// everyone is each person a step may ever call, with on-call overrides.
func everyone(nt Notify, targets []string, p *Policy) []string {
	out := append([]string(nil), targets...)
	if nt.Kind != NotifyPeople && p.Roster != nil {
		for _, o := range p.Roster.Overrides {
			if o.Person != "" && !slices.Contains(out, o.Person) {
				out = append(out, o.Person)
			}
		}
	}
	return out
}
