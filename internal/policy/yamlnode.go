package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder walks YAML nodes of one file and collects every problem it meets.
type decoder struct {
	file  string
	probs Problems
	// iotcallIDs are the deployment's IoTCall country ids (nil: defaults).
	iotcallIDs map[int]int
}

func (d *decoder) add(n *yaml.Node, path, format string, args ...any) {
	p := Problem{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.probs = append(d.probs, p)
}

func (d *decoder) pos(n *yaml.Node, path string) Problem {
	return Problem{File: d.file, Line: n.Line, Column: n.Column, Path: path}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// describe names a node's type for "must be X, got Y" messages.
func describe(n *yaml.Node) string {
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

// fields reads a mapping whose keys must be among known. It reports keys not
// known and keys given twice, and returns the value nodes by key along with
// the key nodes (for positions).
func (d *decoder) fields(n *yaml.Node, path string, known ...string) (vals, keys map[string]*yaml.Node, ok bool) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.add(n, path, "must be a mapping, got %s", describe(n))
		return nil, nil, false
	}
	vals, keys = map[string]*yaml.Node{}, map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		name := k.Value
		if !contains(known, name) {
			d.add(k, join(path, name), "unknown key (known keys: %s)", strings.Join(known, ", "))
			continue
		}
		if prev, dup := keys[name]; dup {
			d.add(k, join(path, name), "duplicate key (first at line %d)", prev.Line)
			continue
		}
		vals[name], keys[name] = v, k
	}
	return vals, keys, true
}

// entries reads a mapping with free keys, in order, reporting duplicates.
func (d *decoder) entries(n *yaml.Node, path string) (keys, vals []*yaml.Node) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.add(n, path, "must be a mapping, got %s", describe(n))
		return nil, nil
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if line, dup := seen[k.Value]; dup {
			d.add(k, join(path, k.Value), "duplicate key (first at line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals
}

func (d *decoder) list(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		d.add(n, path, "must be a list, got %s", describe(n))
		return nil, false
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = resolve(c)
	}
	return out, true
}

func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		d.add(n, path, "must be a string, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) nonEmpty(n *yaml.Node, path string) (string, bool) {
	s, ok := d.str(n, path)
	if ok && strings.TrimSpace(s) == "" {
		d.add(n, path, "must not be empty")
		return "", false
	}
	return s, ok
}

func (d *decoder) integer(n *yaml.Node, path string) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.add(n, path, "must be an integer, got %s", describe(n))
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 0, 32)
	if err != nil {
		d.add(n, path, "must be an integer, got %s", n.Value)
		return 0, false
	}
	return int(v), true
}

func (d *decoder) boolean(n *yaml.Node, path string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.add(n, path, "must be true or false, got %s", describe(n))
		return false
	}
	var b bool
	_ = n.Decode(&b)
	return b
}

func (d *decoder) duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.add(n, path, "must be a Go duration such as 30s or 5m, got %q", s)
		return 0, false
	}
	return v, true
}

func (d *decoder) timestamp(n *yaml.Node, path string) (time.Time, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!timestamp") {
		d.add(n, path, "must be an RFC 3339 time such as 2026-01-05T09:00:00+09:00, got %s", describe(n))
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, n.Value)
	if err != nil {
		d.add(n, path, "must be an RFC 3339 time such as 2026-01-05T09:00:00+09:00, got %q", n.Value)
		return time.Time{}, false
	}
	return t, true
}

func (d *decoder) strings(n *yaml.Node, path string) []string {
	return d.stringsEach(n, path, nil)
}

// stringsEach reads a list of non-empty strings, calling check (when not
// nil) with each item's node and path.
func (d *decoder) stringsEach(n *yaml.Node, path string, check func(n *yaml.Node, path, s string)) []string {
	items, ok := d.list(n, path)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		if s, ok := d.nonEmpty(it, index(path, i)); ok {
			if check != nil {
				check(it, index(path, i), s)
			}
			out = append(out, s)
		}
	}
	return out
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
