package policy

import (
	"regexp"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/phone"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/yamlx"
)

var (
	namePattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	labelPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// decoder reads the policies of one file: a yamlx.Decoder that knows the
// deployment's providers.
type decoder struct {
	*yamlx.Decoder
	providers provider.Kinds
}

var policyKeys = []string{"name", "description", "priority", "match", "group_by",
	"acknowledge_on_answer", "people", "roster", "steps", "repeat", "ack_timeout", "active_time", "maintenance"}

// policy decodes one YAML document into a Policy, reporting every problem.
// It returns nil when the document is not a mapping at all.
func (d *decoder) policy(n *yaml.Node) *Policy {
	f, _, ok := d.Fields(n, "", policyKeys...)
	if !ok {
		return nil
	}
	p := &Policy{File: d.File, pos: d.Pos(n, "name")}
	if v := f["name"]; v == nil {
		d.Add(n, "name", "is required")
	} else if s, ok := d.NonEmpty(v, "name"); ok {
		if !namePattern.MatchString(s) {
			d.Add(v, "name", "must be letters, digits, '-', '_' or '.', at most 64, got %q", s)
		}
		p.Name = s
		p.pos = d.Pos(v, "name")
	}
	if v := f["description"]; v != nil {
		p.Description, _ = d.Str(v, "description")
	}
	if v := f["priority"]; v != nil {
		p.Priority, _ = d.Integer(v, "priority")
	}
	if v := f["match"]; v != nil {
		d.match(v, &p.Match)
	}
	if v := f["group_by"]; v != nil {
		p.GroupBy = d.StringsEach(v, "group_by", func(n *yaml.Node, path, l string) {
			if !labelPattern.MatchString(l) {
				d.Add(n, path, "%q is not a label name", l)
			}
		})
	}
	if v := f["acknowledge_on_answer"]; v != nil {
		p.AcknowledgeOnAnswer = d.Bool(v, "acknowledge_on_answer")
	}
	if v := f["repeat"]; v != nil {
		if r, ok := d.Integer(v, "repeat"); ok && r < 0 {
			d.Add(v, "repeat", "must be 0 or more, got %d", r)
		} else {
			p.Repeat = r
		}
	}
	if v := f["ack_timeout"]; v != nil {
		p.AckTimeout = d.ackTimeout(v)
	}
	if v := f["active_time"]; v != nil {
		p.ActiveTime = d.activeTime(v)
	}
	if v := f["maintenance"]; v != nil {
		p.Maintenance = d.maintenance(v)
	}
	if v := f["people"]; v != nil {
		p.People = d.people(v)
	}
	if v := f["roster"]; v != nil {
		p.Roster = d.roster(v, p.People)
	}
	if v := f["steps"]; v == nil {
		d.Add(n, "steps", "is required: a policy needs at least one step")
	} else if items, ok := d.List(v, "steps"); ok {
		if len(items) == 0 {
			d.Add(v, "steps", "must have at least one step")
		}
		for i, it := range items {
			p.Steps = append(p.Steps, d.step(it, yamlx.Index("steps", i), p))
		}
	}
	return p
}

func (d *decoder) match(n *yaml.Node, m *Match) {
	f, _, ok := d.Fields(n, "match", "labels", "labels_regex", "severity")
	if !ok {
		return
	}
	if v := f["labels"]; v != nil {
		m.Labels = d.labelMap(v, "match.labels")
	}
	if v := f["labels_regex"]; v != nil {
		var keys, vals []*yaml.Node
		m.LabelsRegex, keys, vals = d.labelMapNodes(v, "match.labels_regex")
		for i, k := range keys {
			src, ok := m.LabelsRegex[k.Value]
			if !ok {
				continue
			}
			if _, err := compileAnchored(src); err != nil {
				d.Add(vals[i], yamlx.Join("match.labels_regex", k.Value), "regular expression does not compile: %v", err)
			}
		}
		m.re = compileAll(m.LabelsRegex)
	}
	if v := f["severity"]; v != nil {
		m.Severity = d.Strings(v, "match.severity")
	}
}

func (d *decoder) labelMap(n *yaml.Node, path string) map[string]string {
	m, _, _ := d.labelMapNodes(n, path)
	return m
}

func (d *decoder) labelMapNodes(n *yaml.Node, path string) (map[string]string, []*yaml.Node, []*yaml.Node) {
	keys, vals := d.Entries(n, path)
	out := make(map[string]string, len(keys))
	for i, k := range keys {
		kp := yamlx.Join(path, k.Value)
		if !labelPattern.MatchString(k.Value) {
			d.Add(k, kp, "%q is not a label name", k.Value)
		}
		if s, ok := d.Str(vals[i], kp); ok {
			out[k.Value] = s
		}
	}
	return out, keys, vals
}

func (d *decoder) people(n *yaml.Node) map[string]provider.Person {
	keys, vals := d.Entries(n, "people")
	out := make(map[string]provider.Person, len(keys))
	for i, k := range keys {
		path := yamlx.Join("people", k.Value)
		if !namePattern.MatchString(k.Value) || k.Value == NotifyOnCall || k.Value == NotifyRoster {
			d.Add(k, path, "%q cannot name a person: use letters, digits, '-', '_' or '.', and not oncall or roster", k.Value)
		}
		f, _, ok := d.Fields(vals[i], path, "phone")
		if !ok {
			continue
		}
		pn := f["phone"]
		if pn == nil {
			d.Add(vals[i], yamlx.Join(path, "phone"), "is required")
			continue
		}
		s, ok := d.Str(pn, yamlx.Join(path, "phone"))
		if !ok {
			continue
		}
		e164, err := phone.Parse(s)
		if err != nil {
			d.Add(pn, yamlx.Join(path, "phone"), "%v", err)
			continue
		}
		out[k.Value] = provider.Person{Name: k.Value, Phone: e164}
	}
	return out
}

func (d *decoder) person(n *yaml.Node, path string, people map[string]provider.Person) (string, bool) {
	s, ok := d.NonEmpty(n, path)
	if !ok {
		return "", false
	}
	if _, def := people[s]; !def {
		d.Add(n, path, "undefined person %q (define it under people)", s)
		return s, false
	}
	return s, true
}

func (d *decoder) roster(n *yaml.Node, people map[string]provider.Person) *Roster {
	f, _, ok := d.Fields(n, "roster", "people", "handoff", "start", "time_zone", "overrides")
	if !ok {
		return nil
	}
	r := &Roster{People: []string{}}
	if v := f["people"]; v == nil {
		d.Add(n, "roster.people", "is required (it may be an empty list)")
	} else if items, ok := d.List(v, "roster.people"); ok {
		for i, it := range items {
			if s, ok := d.person(it, yamlx.Index("roster.people", i), people); ok {
				r.People = append(r.People, s)
			}
		}
	}
	if v := f["handoff"]; v == nil {
		d.Add(n, "roster.handoff", "is required: daily, weekly or a Go duration")
	} else if s, ok := d.Str(v, "roster.handoff"); ok {
		if _, _, err := parseHandoff(s); err != nil {
			d.Add(v, "roster.handoff", "%v", err)
		}
		r.Handoff = s
	}
	if v := f["time_zone"]; v != nil {
		if s, ok := d.Str(v, "roster.time_zone"); ok {
			if _, err := time.LoadLocation(s); err != nil || s == "Local" {
				d.Add(v, "roster.time_zone", "unknown time zone %q: use an IANA name such as Asia/Tokyo", s)
			} else {
				r.TimeZone = s
			}
		}
	}
	if v := f["start"]; v == nil {
		d.Add(n, "roster.start", "is required: when the first person's first shift begins")
	} else {
		r.Start, _ = d.Timestamp(v, "roster.start")
	}
	if v := f["overrides"]; v != nil {
		items, _ := d.List(v, "roster.overrides")
		for i, it := range items {
			path := yamlx.Index("roster.overrides", i)
			of, _, ok := d.Fields(it, path, "person", "start", "end")
			if !ok {
				continue
			}
			var o Override
			if pv := of["person"]; pv != nil {
				o.Person, _ = d.person(pv, yamlx.Join(path, "person"), people)
			}
			okS, okE := false, false
			if sv := of["start"]; sv == nil {
				d.Add(it, yamlx.Join(path, "start"), "is required")
			} else {
				o.Start, okS = d.Timestamp(sv, yamlx.Join(path, "start"))
			}
			if ev := of["end"]; ev == nil {
				d.Add(it, yamlx.Join(path, "end"), "is required")
			} else {
				o.End, okE = d.Timestamp(ev, yamlx.Join(path, "end"))
				if okS && okE && !o.End.After(o.Start) {
					d.Add(ev, yamlx.Join(path, "end"), "must be after start")
				}
			}
			r.Overrides = append(r.Overrides, o)
		}
	}
	return r
}
