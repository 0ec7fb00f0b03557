// Package yamlx reads YAML nodes strictly and reports every problem it meets
// with file, line, column and YAML path, e.g.
// "policies/db.yaml:14:5: steps[2].wait: must be positive". The policy files
// and each provider's settings are decoded with it.
package yamlx

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Decoder walks YAML nodes of one file and collects every problem it meets.
type Decoder struct {
	// File is the file's name in problems.
	File string
	// Problems are those found so far.
	Problems Problems
}

// Add records a problem at n (nil: no line) and YAML path.
func (d *Decoder) Add(n *yaml.Node, path, format string, args ...any) {
	p := Problem{File: d.File, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.Problems = append(d.Problems, p)
}

// Pos is a problem without a message at n and path: where something was
// written, for a problem found later.
func (d *Decoder) Pos(n *yaml.Node, path string) Problem {
	return Problem{File: d.File, Line: n.Line, Column: n.Column, Path: path}
}

// Join appends a mapping key to a YAML path.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index appends a list index to a YAML path.
func Index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// Resolve follows aliases to the node they name.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// Describe names a node's type for "must be X, got Y" messages.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "nothing"
		case "!!str":
			return fmt.Sprintf("%q", n.Value)
		}
		return fmt.Sprintf("%s %s", strings.TrimPrefix(n.Tag, "!!"), n.Value)
	}
	return "something else"
}

// Fields reads a mapping whose keys must be among known. It reports keys not
// known and keys given twice, and returns the value nodes by key along with
// the key nodes (for positions).
func (d *Decoder) Fields(n *yaml.Node, path string, known ...string) (vals, keys map[string]*yaml.Node, ok bool) {
	n = Resolve(n)
	if n.Kind != yaml.MappingNode {
		d.Add(n, path, "must be a mapping, got %s", Describe(n))
		return nil, nil, false
	}
	vals, keys = map[string]*yaml.Node{}, map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := Resolve(n.Content[i]), Resolve(n.Content[i+1])
		name := k.Value
		if !slices.Contains(known, name) {
			d.Add(k, Join(path, name), "unknown key (known keys: %s)", strings.Join(known, ", "))
			continue
		}
		if prev, dup := keys[name]; dup {
			d.Add(k, Join(path, name), "duplicate key (first at line %d)", prev.Line)
			continue
		}
		vals[name], keys[name] = v, k
	}
	return vals, keys, true
}

// Entries reads a mapping with free keys, in order, reporting duplicates.
func (d *Decoder) Entries(n *yaml.Node, path string) (keys, vals []*yaml.Node) {
	n = Resolve(n)
	if n.Kind != yaml.MappingNode {
		d.Add(n, path, "must be a mapping, got %s", Describe(n))
		return nil, nil
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := Resolve(n.Content[i]), Resolve(n.Content[i+1])
		if line, dup := seen[k.Value]; dup {
			d.Add(k, Join(path, k.Value), "duplicate key (first at line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals
}

// List reads a sequence, resolving aliases in its items.
func (d *Decoder) List(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	n = Resolve(n)
	if n.Kind != yaml.SequenceNode {
		d.Add(n, path, "must be a list, got %s", Describe(n))
		return nil, false
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = Resolve(c)
	}
	return out, true
}

// Str reads a string scalar.
func (d *Decoder) Str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		d.Add(n, path, "must be a string, got %s", Describe(n))
		return "", false
	}
	return n.Value, true
}

// NonEmpty reads a string scalar that is not blank.
func (d *Decoder) NonEmpty(n *yaml.Node, path string) (string, bool) {
	s, ok := d.Str(n, path)
	if ok && strings.TrimSpace(s) == "" {
		d.Add(n, path, "must not be empty")
		return "", false
	}
	return s, ok
}

// Integer reads an integer scalar that fits in 32 bits.
func (d *Decoder) Integer(n *yaml.Node, path string) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.Add(n, path, "must be an integer, got %s", Describe(n))
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 0, 32)
	if err != nil {
		d.Add(n, path, "must be an integer, got %s", n.Value)
		return 0, false
	}
	return int(v), true
}

// Bool reads true or false.
func (d *Decoder) Bool(n *yaml.Node, path string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.Add(n, path, "must be true or false, got %s", Describe(n))
		return false
	}
	var b bool
	_ = n.Decode(&b)
	return b
}

// Duration reads a Go duration string such as 30s or 5m.
func (d *Decoder) Duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, ok := d.Str(n, path)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.Add(n, path, "must be a Go duration such as 30s or 5m, got %q", s)
		return 0, false
	}
	return v, true
}

// Timestamp reads an RFC 3339 time.
func (d *Decoder) Timestamp(n *yaml.Node, path string) (time.Time, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!timestamp") {
		d.Add(n, path, "must be an RFC 3339 time such as 2026-01-05T09:00:00+09:00, got %s", Describe(n))
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, n.Value)
	if err != nil {
		d.Add(n, path, "must be an RFC 3339 time such as 2026-01-05T09:00:00+09:00, got %q", n.Value)
		return time.Time{}, false
	}
	return t, true
}

// Strings reads a list of non-empty strings.
func (d *Decoder) Strings(n *yaml.Node, path string) []string {
	return d.StringsEach(n, path, nil)
}

// StringsEach reads a list of non-empty strings, calling check (when not
// nil) with each item's node and path.
func (d *Decoder) StringsEach(n *yaml.Node, path string, check func(n *yaml.Node, path, s string)) []string {
	items, ok := d.List(n, path)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		if s, ok := d.NonEmpty(it, Index(path, i)); ok {
			if check != nil {
				check(it, Index(path, i), s)
			}
			out = append(out, s)
		}
	}
	return out
}
