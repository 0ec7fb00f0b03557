package policy

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/yamlx"
)

// MinHeartbeatEvery is the shortest interval a heartbeat monitor may have:
// a deadline is a message schedule, with whole-second precision, as a
// step's wait (MinWait).
const MinHeartbeatEvery = time.Second

// HeartbeatLabel is the label a heartbeat's alert carries with the
// monitor's name; a monitor's own labels may not set it.
const HeartbeatLabel = "heartbeat"

var heartbeatKeys = []string{"heartbeat", "every", "labels", "summary"}

// isHeartbeat reports whether a document's top-level node is a heartbeat
// monitor: a mapping with the key heartbeat.
func isHeartbeat(n *yaml.Node) bool {
	n = yamlx.Resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := yamlx.Resolve(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == "heartbeat" {
			return true
		}
	}
	return false
}

// heartbeat decodes a heartbeat document, reporting every problem.
func (d *decoder) heartbeat(n *yaml.Node) *Heartbeat {
	f, _, ok := d.Fields(n, "", heartbeatKeys...)
	if !ok {
		return nil
	}
	h := &Heartbeat{File: d.File, pos: d.Pos(n, "heartbeat")}
	if v := f["heartbeat"]; v != nil {
		h.pos = d.Pos(v, "heartbeat")
		if s, ok := d.NonEmpty(v, "heartbeat"); ok {
			switch {
			case !namePattern.MatchString(s):
				d.Add(v, "heartbeat", "must be letters, digits, '-', '_' or '.', at most 64, got %q", s)
			case strings.HasSuffix(s, ".") || strings.Contains(s, ".."):
				d.Add(v, "heartbeat", "%q cannot be pinged: pings are published to heartbeats.<name>, so no '..' and no '.' at the end", s)
			}
			h.Name = s
		}
	}
	if v := f["every"]; v == nil {
		d.Add(n, "every", "is required: the longest time allowed between two pings, e.g. 25h")
	} else if e, ok := d.Duration(v, "every"); ok {
		if e < MinHeartbeatEvery {
			d.Add(v, "every", "must be at least %s, got %s", MinHeartbeatEvery, v.Value)
		} else {
			h.Every = e
		}
	}
	if v := f["labels"]; v != nil {
		var keys []*yaml.Node
		h.Labels, keys, _ = d.labelMapNodes(v, "labels")
		for _, k := range keys {
			if k.Value == HeartbeatLabel {
				d.Add(k, yamlx.Join("labels", k.Value), "is set to the monitor's name by escalator: leave it out")
			}
		}
	}
	if v := f["summary"]; v != nil {
		h.Summary, _ = d.Str(v, "summary")
	}
	return h
}

// sortHeartbeats orders monitors by name and reports names given twice.
func sortHeartbeats(hs []*Heartbeat) ([]*Heartbeat, Problems) {
	var probs Problems
	first := map[string]*Heartbeat{}
	out := make([]*Heartbeat, 0, len(hs))
	for _, h := range hs {
		if h.Name == "" {
			continue
		}
		if prev, dup := first[h.Name]; dup {
			pr := h.pos
			if pr.File == "" {
				pr = Problem{File: h.File, Path: "heartbeat"}
			}
			pr.Msg = fmt.Sprintf("duplicate heartbeat name %q (also in %s)", h.Name, prev.where())
			probs = append(probs, pr)
			continue
		}
		first[h.Name] = h
		out = append(out, h)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, probs
}

func (h *Heartbeat) where() string {
	if h.pos.Line > 0 {
		return fmt.Sprintf("%s:%d:%d", h.pos.File, h.pos.Line, h.pos.Column)
	}
	return h.File
}
