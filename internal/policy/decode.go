package policy

import (
	"regexp"

	"go.yaml.in/yaml/v3"

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
// It returns nil when the document is not a mapping at all. The people its
// steps and roster name, the rosters they name and the via entries are
// checked when the policy is linked to the people and rosters of every file.
func (d *decoder) policy(n *yaml.Node) *rawPolicy {
	f, _, ok := d.Fields(n, "", policyKeys...)
	if !ok {
		return nil
	}
	p := &Policy{File: d.File, pos: d.Pos(n, "name")}
	rp := &rawPolicy{p: p, d: d}
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
		p.ActiveTime = d.activeTime(v, "active_time")
	}
	if v := f["maintenance"]; v != nil {
		p.Maintenance = d.maintenance(v)
	}
	if v := f["people"]; v != nil {
		rp.own = d.people(v, "people", p.Name)
	}
	if v := f["roster"]; v != nil {
		if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
			d.Add(v, "roster", "must be a mapping (the policy's own roster): to use the shared roster %q, name it in a step: notify: {oncall: %s} or {roster: %s}", v.Value, v.Value, v.Value)
		} else if rr := d.roster(v, "roster"); rr != nil {
			rp.roster = rr
			p.Roster = rr.r
		}
	}
	if v := f["steps"]; v == nil {
		d.Add(n, "steps", "is required: a policy needs at least one step")
	} else if items, ok := d.List(v, "steps"); ok {
		if len(items) == 0 {
			d.Add(v, "steps", "must have at least one step")
		}
		p.Steps = make([]Step, 0, len(items))
		for i, it := range items {
			s, rs := d.step(it, yamlx.Index("steps", i), rp)
			p.Steps = append(p.Steps, s)
			rs.i = i
			rp.steps = append(rp.steps, rs)
		}
	}
	return rp
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
