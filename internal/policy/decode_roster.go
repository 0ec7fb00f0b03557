package policy

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/yamlx"
)

var (
	rosterKeys       = []string{"people", "handoff", "start", "time_zone", "on_call", "layers", "overrides"}
	sharedRosterKeys = append([]string{"roster", "description"}, rosterKeys...)
	layerKeys        = []string{"name", "people", "handoff", "start", "time_zone", "on_call", "restrict"}
	overrideKeys     = []string{"person", "people", "start", "end"}
)

// ref is a name written in a file, checked once every file is read.
type ref struct {
	name string
	n    *yaml.Node
	path string
}

// rawRoster is a roster as read, with the people it names, checked when
// the files are linked.
type rawRoster struct {
	r    *Roster
	d    *decoder
	refs []ref
}

// isRoster reports whether a document's top-level node is a shared roster:
// a mapping whose key roster holds a name (a policy's own roster is a
// mapping under a policy's name and steps).
func isRoster(n *yaml.Node) bool {
	v := keyValue(n, "roster")
	return v != nil && v.Kind == yaml.ScalarNode && !hasKey(n, "name") && !hasKey(n, "steps")
}

// sharedRoster decodes a roster document: `roster: <name>` and the fields
// of a roster.
func (d *decoder) sharedRoster(n *yaml.Node) *rawRoster {
	f, _, ok := d.Fields(n, "", sharedRosterKeys...)
	if !ok {
		return nil
	}
	v := f["roster"]
	rr := d.rosterFields(n, f, "", d.Pos(v, "roster"))
	rr.r.File = d.File
	if s, ok := d.NonEmpty(v, "roster"); ok {
		if !namePattern.MatchString(s) {
			d.Add(v, "roster", "must be letters, digits, '-', '_' or '.', at most 64, got %q", s)
		}
		rr.r.Name = s
	}
	if dv := f["description"]; dv != nil {
		rr.r.Description, _ = d.Str(dv, "description")
	}
	return rr
}

// roster decodes a policy's own roster, the mapping n at path.
func (d *decoder) roster(n *yaml.Node, path string) *rawRoster {
	f, _, ok := d.Fields(n, path, rosterKeys...)
	if !ok {
		return nil
	}
	return d.rosterFields(n, f, path, d.Pos(n, path))
}

// rosterFields reads the fields f of a roster written at n (path is the
// prefix of its fields' paths, "" for a roster document); pos is where to
// report a roster with nobody.
func (d *decoder) rosterFields(n *yaml.Node, f map[string]*yaml.Node, path string, pos Problem) *rawRoster {
	rr := &rawRoster{r: &Roster{pos: pos}, d: d}
	r := rr.r
	if v := f["time_zone"]; v != nil {
		r.TimeZone = d.timeZone(v, yamlx.Join(path, "time_zone"))
	}
	d.rotation(n, f, path, rr, &r.Rotation, false)
	if v := f["layers"]; v != nil {
		d.layers(v, yamlx.Join(path, "layers"), rr)
	}
	if v := f["overrides"]; v != nil {
		d.overrides(v, yamlx.Join(path, "overrides"), rr)
	}
	if len(r.Everyone()) == 0 && f["layers"] == nil {
		at := n
		if path == "" {
			at = f["roster"]
		}
		d.Add(at, pos.Path, "has nobody: name people (the rotation, in order), layers, or an override with a person")
	}
	return rr
}

// rotation reads the fields of a rotation (a roster's base, or a layer):
// people, handoff, start, time_zone (read by the caller) and on_call.
// A layer's people are required; the base's may be left out.
func (d *decoder) rotation(n *yaml.Node, f map[string]*yaml.Node, path string, rr *rawRoster, rot *Rotation, layer bool) {
	if v := f["people"]; v == nil {
		if layer {
			d.Add(n, yamlx.Join(path, "people"), "is required: the layer's people, in order")
		}
	} else if items, ok := d.List(v, yamlx.Join(path, "people")); ok {
		rot.People = []string{}
		if layer && len(items) == 0 {
			d.Add(v, yamlx.Join(path, "people"), "must name at least one person: a layer with nobody covers nobody (leave the layer out)")
		}
		for i, it := range items {
			ip := yamlx.Index(yamlx.Join(path, "people"), i)
			if s, ok := d.NonEmpty(it, ip); ok {
				rot.People = append(rot.People, s)
				rr.refs = append(rr.refs, ref{name: s, n: it, path: ip})
			}
		}
	}
	good := true
	if v := f["on_call"]; v != nil {
		k, ok := d.Integer(v, yamlx.Join(path, "on_call"))
		switch {
		case !ok:
			good = false
		case k < 1:
			d.Add(v, yamlx.Join(path, "on_call"), "must be 1 or more, got %d", k)
			good = false
		case rot.People != nil && k > len(rot.People):
			d.Add(v, yamlx.Join(path, "on_call"), "is %d, but the rotation has %s: on_call is how many of its people are on call at once", k, plural(len(rot.People), "person", "people"))
			good = false
		default:
			rot.AtOnce = k
		}
	}
	// Someone hands off only when there are more people than on call (an
	// on_call in error says nothing of it).
	hands := good && len(rot.People) > max(rot.AtOnce, 1)
	if v := f["handoff"]; v == nil {
		if hands {
			d.Add(n, yamlx.Join(path, "handoff"), "is required: daily, weekly or a Go duration")
		}
	} else if s, ok := d.Str(v, yamlx.Join(path, "handoff")); ok {
		if _, _, err := parseHandoff(s); err != nil {
			d.Add(v, yamlx.Join(path, "handoff"), "%v", err)
		}
		rot.Handoff = s
	}
	if v := f["start"]; v == nil {
		if hands {
			d.Add(n, yamlx.Join(path, "start"), "is required: when the first person's first shift begins")
		}
	} else {
		rot.Start, _ = d.Timestamp(v, yamlx.Join(path, "start"))
	}
}

// layers reads a roster's layers, lowest first.
func (d *decoder) layers(n *yaml.Node, path string, rr *rawRoster) {
	items, ok := d.List(n, path)
	if !ok {
		return
	}
	if len(items) == 0 {
		d.Add(n, path, "must have at least one layer (leave layers out for a roster of one rotation)")
	}
	seen := map[string]int{}
	for i, it := range items {
		lp := yamlx.Index(path, i)
		f, _, ok := d.Fields(it, lp, layerKeys...)
		if !ok {
			continue
		}
		l := Layer{Name: fmt.Sprintf("layer %d", i+1)}
		if v := f["name"]; v != nil {
			if s, ok := d.NonEmpty(v, yamlx.Join(lp, "name")); ok {
				if !namePattern.MatchString(s) {
					d.Add(v, yamlx.Join(lp, "name"), "must be letters, digits, '-', '_' or '.', at most 64, got %q", s)
				}
				if prev, dup := seen[s]; dup {
					d.Add(v, yamlx.Join(lp, "name"), "layer %q is also layers[%d]: give each layer its own name", s, prev)
				}
				seen[s] = i
				l.Name = s
			}
		}
		l.TimeZone = rr.r.TimeZone
		if v := f["time_zone"]; v != nil {
			l.TimeZone = d.timeZone(v, yamlx.Join(lp, "time_zone"))
		}
		d.rotation(it, f, lp, rr, &l.Rotation, true)
		if v := f["restrict"]; v != nil {
			l.Restrict = d.activeTime(v, yamlx.Join(lp, "restrict"))
			for j := range l.Restrict {
				if l.Restrict[j].TimeZone == "" {
					l.Restrict[j].TimeZone = l.TimeZone
				}
			}
		}
		rr.r.Layers = append(rr.r.Layers, l)
	}
}

// overrides reads a roster's overrides.
func (d *decoder) overrides(n *yaml.Node, path string, rr *rawRoster) {
	items, _ := d.List(n, path)
	for i, it := range items {
		op := yamlx.Index(path, i)
		of, _, ok := d.Fields(it, op, overrideKeys...)
		if !ok {
			continue
		}
		var o Override
		switch pv, lv := of["person"], of["people"]; {
		case pv != nil && lv != nil:
			d.Add(lv, yamlx.Join(op, "people"), "person and people are two ways to say who covers: keep one")
		case pv != nil:
			if s, ok := d.NonEmpty(pv, yamlx.Join(op, "person")); ok {
				o.Person = s
				rr.refs = append(rr.refs, ref{name: s, n: pv, path: yamlx.Join(op, "person")})
			}
		case lv != nil:
			items, _ := d.List(lv, yamlx.Join(op, "people"))
			if lv.Kind == yaml.SequenceNode && len(items) == 0 {
				d.Add(lv, yamlx.Join(op, "people"), "must name at least one person (for a holiday, leave person and people out)")
			}
			for j, pn := range items {
				pp := yamlx.Index(yamlx.Join(op, "people"), j)
				if s, ok := d.NonEmpty(pn, pp); ok {
					o.People = append(o.People, s)
					rr.refs = append(rr.refs, ref{name: s, n: pn, path: pp})
				}
			}
		}
		okS, okE := false, false
		if sv := of["start"]; sv == nil {
			d.Add(it, yamlx.Join(op, "start"), "is required")
		} else {
			o.Start, okS = d.Timestamp(sv, yamlx.Join(op, "start"))
		}
		if ev := of["end"]; ev == nil {
			d.Add(it, yamlx.Join(op, "end"), "is required")
		} else {
			o.End, okE = d.Timestamp(ev, yamlx.Join(op, "end"))
			if okS && okE && !o.End.After(o.Start) {
				d.Add(ev, yamlx.Join(op, "end"), "must be after start")
			}
		}
		rr.r.Overrides = append(rr.r.Overrides, o)
	}
}

// timeZone reads an IANA time zone name.
func (d *decoder) timeZone(n *yaml.Node, path string) string {
	s, ok := d.Str(n, path)
	if !ok {
		return ""
	}
	if _, err := time.LoadLocation(s); err != nil || s == "Local" {
		d.Add(n, path, "unknown time zone %q: use an IANA name such as Asia/Tokyo", s)
		return ""
	}
	return s
}
