package policy

import (
	"maps"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/phone"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/yamlx"
)

// PeopleFile is a document whose top-level key is people: people every
// policy (and every shared roster) may name.
type PeopleFile struct {
	// File is the file it was read from.
	File        string `json:"file"`
	Description string `json:"description,omitempty"`
	// People are the people it defines, in the order written.
	People []provider.Person `json:"people"`
}

var (
	peopleFileKeys = []string{"people", "description"}
	personKeys     = []string{"phone", "phones", "by_provider"}
)

// personDef is one definition of a person, with where it was written: in a
// people file (policy "") or under a policy's own people.
type personDef struct {
	person provider.Person
	policy string
	d      *decoder
	n      *yaml.Node // the name's key node
	path   string
}

func (pd personDef) where() string { return where(pd.d.Pos(pd.n, pd.path)) }

// isPeople reports whether a document's top-level node is a people file: a
// mapping with the key people, and neither name nor steps (a policy's).
func isPeople(n *yaml.Node) bool {
	return hasKey(n, "people") && !hasKey(n, "name") && !hasKey(n, "steps")
}

// hasKey reports whether n is a mapping with the key.
func hasKey(n *yaml.Node, key string) bool {
	n = yamlx.Resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := yamlx.Resolve(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			return true
		}
	}
	return false
}

// keyValue returns the value of key in the mapping n, or nil.
func keyValue(n *yaml.Node, key string) *yaml.Node {
	n = yamlx.Resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := yamlx.Resolve(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			return yamlx.Resolve(n.Content[i+1])
		}
	}
	return nil
}

// peopleFile decodes a people document.
func (d *decoder) peopleFile(n *yaml.Node) (*PeopleFile, []personDef) {
	f, _, ok := d.Fields(n, "", peopleFileKeys...)
	if !ok {
		return nil, nil
	}
	pf := &PeopleFile{File: d.File, People: []provider.Person{}}
	if v := f["description"]; v != nil {
		pf.Description, _ = d.Str(v, "description")
	}
	defs := d.people(f["people"], "people", "")
	if v := yamlx.Resolve(f["people"]); v.Kind == yaml.MappingNode && len(v.Content) == 0 {
		d.Add(f["people"], "people", "must define at least one person, e.g. aiko: {phone: \"+81 80-1234-5678\"}")
	}
	for _, def := range defs {
		pf.People = append(pf.People, def.person)
	}
	return pf, defs
}

// people reads a people mapping at path: each person's numbers. owner is
// the policy they belong to ("" for a people file).
func (d *decoder) people(n *yaml.Node, path, owner string) []personDef {
	keys, vals := d.Entries(n, path)
	var out []personDef
	for i, k := range keys {
		pp := yamlx.Join(path, k.Value)
		if !namePattern.MatchString(k.Value) || k.Value == NotifyOnCall || k.Value == NotifyRoster {
			d.Add(k, pp, "%q cannot name a person: use letters, digits, '-', '_' or '.', and not oncall or roster", k.Value)
		}
		if p, ok := d.person(vals[i], pp); ok {
			p.Name = k.Value
			out = append(out, personDef{person: p, policy: owner, d: d, n: k, path: pp})
		}
	}
	return out
}

// person reads one person's numbers: {phone} or {phones}, and optional
// by_provider numbers.
func (d *decoder) person(n *yaml.Node, path string) (provider.Person, bool) {
	var p provider.Person
	f, _, ok := d.Fields(n, path, personKeys...)
	if !ok {
		return p, false
	}
	ok = true
	switch one, many := f["phone"], f["phones"]; {
	case one != nil && many != nil:
		d.Add(many, yamlx.Join(path, "phones"), "phone and phones are two ways to give the numbers: keep one (phones: [first, second], tried in order)")
		ok = false
	case one != nil:
		s, good := d.number(one, yamlx.Join(path, "phone"))
		p.Phone, ok = s, good
	case many != nil:
		nums, good := d.numberList(many, yamlx.Join(path, "phones"), true)
		if good && len(nums) > 0 {
			p.Phone = nums[0]
			if len(nums) > 1 {
				p.Alternates = nums[1:]
			}
		}
		ok = good && len(nums) > 0
	default:
		d.Add(n, yamlx.Join(path, "phone"), "is required: the number in international form, e.g. \"+81 80-1234-5678\" (or phones: a list, tried in order)")
		ok = false
	}
	if v := f["by_provider"]; v != nil {
		bp, good := d.byProvider(v, yamlx.Join(path, "by_provider"))
		p.ByProvider, ok = bp, ok && good
	}
	return p, ok
}

// byProvider reads numbers by provider name: a number or a list each.
func (d *decoder) byProvider(n *yaml.Node, path string) (map[string][]string, bool) {
	keys, vals := d.Entries(n, path)
	names := d.providers.Names()
	if len(keys) == 0 {
		d.Add(n, path, "must name at least one provider (%s) with its numbers, or be left out", orList(names))
		return nil, false
	}
	out := map[string][]string{}
	ok := true
	for i, k := range keys {
		kp := yamlx.Join(path, k.Value)
		if !slices.Contains(names, k.Value) {
			d.Add(k, kp, "unknown provider %q: by_provider takes %s", k.Value, orList(names))
			ok = false
			continue
		}
		v := vals[i]
		if v.Kind == yaml.SequenceNode {
			nums, good := d.numberList(v, kp, true)
			if good && len(nums) > 0 {
				out[k.Value] = nums
			}
			ok = ok && good && len(nums) > 0
			continue
		}
		s, good := d.number(v, kp)
		if good {
			out[k.Value] = []string{s}
		}
		ok = ok && good
	}
	return out, ok
}

// number reads one phone number and returns it in E.164.
func (d *decoder) number(n *yaml.Node, path string) (string, bool) {
	s, ok := d.Str(n, path)
	if !ok {
		return "", false
	}
	e164, err := phone.Parse(s)
	if err != nil {
		d.Add(n, path, "%v", err)
		return "", false
	}
	return e164, true
}

// numberList reads a list of at least one phone number, each once.
func (d *decoder) numberList(n *yaml.Node, path string, nonEmpty bool) ([]string, bool) {
	items, ok := d.List(n, path)
	if !ok {
		return nil, false
	}
	if nonEmpty && len(items) == 0 {
		d.Add(n, path, "must have at least one number")
		return nil, false
	}
	var out []string
	for i, it := range items {
		s, good := d.number(it, yamlx.Index(path, i))
		switch {
		case !good:
			ok = false
		case slices.Contains(out, s):
			d.Add(it, yamlx.Index(path, i), "%s is listed twice", s)
			ok = false
		default:
			out = append(out, s)
		}
	}
	return out, ok
}

// samePerson reports whether a and b have the same numbers.
func samePerson(a, b provider.Person) bool {
	return a.Phone == b.Phone && slices.Equal(a.Alternates, b.Alternates) &&
		maps.EqualFunc(a.ByProvider, b.ByProvider, slices.Equal[[]string])
}
