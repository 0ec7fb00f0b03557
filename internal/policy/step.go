package policy

import (
	"github.com/escalator-oss/escalator/internal/provider"
	"go.yaml.in/yaml/v3"
)

var stepKeys = []string{"notify", "strategy", "stop_on_answer", "pass_on", "via", "wait"}

func (d *decoder) step(n *yaml.Node, path string, p *Policy) Step {
	var s Step
	f, _, ok := d.fields(n, path, stepKeys...)
	if !ok {
		return s
	}
	if v := f["notify"]; v == nil {
		d.add(n, join(path, "notify"), "is required: a list of people, oncall or roster")
	} else {
		s.Notify = d.notify(v, join(path, "notify"), p)
	}
	s.Strategy = provider.Single
	if v := f["strategy"]; v != nil {
		if st, ok := d.str(v, join(path, "strategy")); ok {
			switch provider.Strategy(st) {
			case provider.Single, provider.Broadcast, provider.Rotation:
				s.Strategy = provider.Strategy(st)
			default:
				d.add(v, join(path, "strategy"), "must be single, broadcast or rotation, got %q", st)
			}
		}
	}
	if v := f["stop_on_answer"]; v != nil {
		s.StopOnAnswer = d.boolean(v, join(path, "stop_on_answer"))
		if s.StopOnAnswer && s.Strategy != provider.Broadcast {
			d.add(v, join(path, "stop_on_answer"), "applies only to strategy broadcast, not %s", s.Strategy)
		}
	}
	if v := f["pass_on"]; v != nil {
		s.PassOn = d.boolean(v, join(path, "pass_on"))
		if s.PassOn && s.Strategy != provider.Rotation {
			d.add(v, join(path, "pass_on"), "applies only to strategy rotation, not %s", s.Strategy)
		}
	}
	if v := f["wait"]; v == nil {
		d.add(n, join(path, "wait"), "is required: how long to wait for an acknowledgement, e.g. 5m")
	} else if w, ok := d.duration(v, join(path, "wait")); ok {
		switch {
		case w <= 0:
			d.add(v, join(path, "wait"), "must be positive")
		case w < MinWait:
			d.add(v, join(path, "wait"), "must be at least %s, got %s", MinWait, w)
		}
		s.Wait = w
	}
	targets := stepTargets(s.Notify, p)
	if n := callCount(s.Notify, targets); s.Strategy == provider.Single && n > 1 {
		if s.Notify.Kind == NotifyRoster {
			d.add(f["notify"], join(path, "notify"), "strategy single calls one person, but the roster has %d: notify oncall instead", n)
		} else {
			d.add(f["notify"], join(path, "notify"), "strategy single calls one person, but %d are listed: use broadcast or rotation", n)
		}
	}
	if v := f["via"]; v == nil {
		d.add(n, join(path, "via"), "is required: the providers to call through, in fallback order")
	} else if items, ok := d.list(v, join(path, "via")); ok {
		if len(items) == 0 {
			d.add(v, join(path, "via"), "must name at least one provider")
		}
		for i, it := range items {
			if via, ok := d.via(it, index(join(path, "via"), i), s, targets, p); ok {
				s.Via = append(s.Via, via)
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
				d.add(n, path, "%s needs a roster: define one under roster", n.Value)
			}
			return Notify{Kind: n.Value}
		}
	}
	if n.Kind != yaml.SequenceNode {
		d.add(n, path, "must be a list of people, oncall or roster, got %s", describe(n))
		return Notify{}
	}
	nt := Notify{Kind: NotifyPeople}
	seen := map[string]bool{}
	items, _ := d.list(n, path)
	if len(items) == 0 {
		d.add(n, path, "must name at least one person")
	}
	for i, it := range items {
		name, ok := d.person(it, index(path, i), p.People)
		if !ok {
			continue
		}
		if seen[name] {
			d.add(it, index(path, i), "%q is listed twice", name)
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
			if !contains(out, name) {
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

func (d *decoder) via(n *yaml.Node, path string, s Step, targets []string, p *Policy) (Via, bool) {
	f, keys, ok := d.fields(n, path, IoTCall, Yemot, CCAI)
	if !ok {
		return Via{}, false
	}
	if len(f) != 1 {
		d.add(n, path, "must name exactly one provider (iotcall, yemot or ccai), got %d", len(f))
		return Via{}, false
	}
	for name, v := range f {
		vp := join(path, name)
		via := Via{Provider: name, pos: d.pos(keys[name], vp)}
		count := callCount(s.Notify, targets)
		switch name {
		case IoTCall:
			via.IoTCall = d.iotcall(v, keys[name], vp, s, count, everyone(s.Notify, targets, p), p.People)
		case Yemot:
			via.Yemot = d.yemot(v, keys[name], vp, count)
		case CCAI:
			via.CCAI = d.ccai(v, keys[name], vp)
		}
		return via, true
	}
	return Via{}, false
}

// everyone is each person a step may ever call, with on-call overrides.
func everyone(nt Notify, targets []string, p *Policy) []string {
	out := append([]string(nil), targets...)
	if nt.Kind != NotifyPeople && p.Roster != nil {
		for _, o := range p.Roster.Overrides {
			if o.Person != "" && !contains(out, o.Person) {
				out = append(out, o.Person)
			}
		}
	}
	return out
}
