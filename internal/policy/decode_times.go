package policy

import (
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/yamlx"
)

// MinAckTimeout is the shortest ack_timeout a policy may have.
const MinAckTimeout = time.Minute

var (
	windowKeys      = []string{"days", "from", "to", "time_zone"}
	maintenanceKeys = []string{"start", "end", "days", "from", "to", "time_zone"}
)

func (d *decoder) ackTimeout(n *yaml.Node) time.Duration {
	v, ok := d.Duration(n, "ack_timeout")
	if !ok {
		return 0
	}
	if v < MinAckTimeout {
		d.Add(n, "ack_timeout", "must be at least 1m, got %s (leave it out never to re-page)", n.Value)
		return 0
	}
	return v
}

// activeTime reads active_time (or a layer's restrict, at path): one
// window, or a list of them.
func (d *decoder) activeTime(n *yaml.Node, path string) []TimeWindow {
	n = yamlx.Resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		if f, _, ok := d.Fields(n, path, windowKeys...); ok {
			return []TimeWindow{d.timeWindow(n, path, f)}
		}
	case yaml.SequenceNode:
		items, _ := d.List(n, path)
		if len(items) == 0 {
			if path == "active_time" {
				d.Add(n, path, "must have at least one window (leave active_time out for a policy active at all times)")
			} else {
				d.Add(n, path, "must have at least one window (leave restrict out for a layer on call at all times)")
			}
		}
		var out []TimeWindow
		for i, it := range items {
			if f, _, ok := d.Fields(it, yamlx.Index(path, i), windowKeys...); ok {
				out = append(out, d.timeWindow(it, yamlx.Index(path, i), f))
			}
		}
		return out
	default:
		d.Add(n, path, "must be a mapping {days, from, to, time_zone} or a list of them, got %s", yamlx.Describe(n))
	}
	return nil
}

// maintenance reads the maintenance windows: one-off {start, end} or
// weekly {days, from, to, time_zone}.
func (d *decoder) maintenance(n *yaml.Node) []Window {
	items, ok := d.List(n, "maintenance")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.Add(n, "maintenance", "must have at least one window (leave maintenance out for none)")
	}
	var out []Window
	for i, it := range items {
		path := yamlx.Index("maintenance", i)
		f, _, ok := d.Fields(it, path, maintenanceKeys...)
		if !ok {
			continue
		}
		oneOff := f["start"] != nil || f["end"] != nil
		weekly := f["days"] != nil || f["from"] != nil || f["to"] != nil || f["time_zone"] != nil
		switch {
		case oneOff && weekly:
			d.Add(it, path, "is either one-off (start, end) or weekly (days, from, to, time_zone), not both: write two windows")
		case oneOff:
			var w Window
			okS, okE := false, false
			if v := f["start"]; v == nil {
				d.Add(it, yamlx.Join(path, "start"), "is required: when the window begins, RFC 3339")
			} else {
				w.Start, okS = d.Timestamp(v, yamlx.Join(path, "start"))
			}
			if v := f["end"]; v == nil {
				d.Add(it, yamlx.Join(path, "end"), "is required: when the window ends, RFC 3339")
			} else {
				w.End, okE = d.Timestamp(v, yamlx.Join(path, "end"))
				if okS && okE && !w.End.After(w.Start) {
					d.Add(v, yamlx.Join(path, "end"), "must be after start")
				}
			}
			out = append(out, w)
		case weekly:
			tw := d.timeWindow(it, path, f)
			out = append(out, Window{Weekly: &tw})
		default:
			d.Add(it, path, "must be a one-off window {start, end} or a weekly one {days, from, to, time_zone}")
		}
	}
	return out
}

// timeWindow reads a weekly window's fields f (of the mapping n at path).
func (d *decoder) timeWindow(n *yaml.Node, path string, f map[string]*yaml.Node) TimeWindow {
	var w TimeWindow
	if v := f["days"]; v != nil {
		w.Days = d.days(v, yamlx.Join(path, "days"))
	}
	from, okF := d.timeOfDay(n, f["from"], yamlx.Join(path, "from"), false)
	to, okT := d.timeOfDay(n, f["to"], yamlx.Join(path, "to"), true)
	if okF {
		w.From = f["from"].Value
	}
	if okT {
		w.To = f["to"].Value
	}
	if okF && okT && from == to {
		d.Add(f["to"], yamlx.Join(path, "to"), "must differ from from: for the whole day, write from: \"00:00\" and to: \"24:00\"")
	}
	if v := f["time_zone"]; v != nil {
		if s, ok := d.Str(v, yamlx.Join(path, "time_zone")); ok {
			if _, err := time.LoadLocation(s); err != nil || s == "Local" {
				d.Add(v, yamlx.Join(path, "time_zone"), "unknown time zone %q: use an IANA name such as Asia/Tokyo", s)
			} else {
				w.TimeZone = s
			}
		}
	}
	return w
}

// timeOfDay reads from (end false) or to (end true) of the mapping n.
func (d *decoder) timeOfDay(n, v *yaml.Node, path string, end bool) (int, bool) {
	example, what := "09:00", "is required: when the window opens each day, e.g. 09:00"
	if end {
		example, what = "18:00, or 24:00", "is required: when the window closes, e.g. 18:00 (at or before from: the next day)"
	}
	if v == nil {
		d.Add(n, path, "%s", what)
		return 0, false
	}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
		if m, ok := clock(v.Value, end); ok {
			return m, true
		}
	}
	d.Add(v, path, "must be a time of day HH:MM such as %s, got %s", example, yamlx.Describe(v))
	return 0, false
}

// days reads a window's days: names of weekdays, each once.
func (d *decoder) days(n *yaml.Node, path string) []string {
	items, ok := d.List(n, path)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.Add(n, path, "must name at least one day (leave days out for every day)")
	}
	var out []string
	seen := map[time.Weekday]bool{}
	for i, it := range items {
		s, ok := d.NonEmpty(it, yamlx.Index(path, i))
		if !ok {
			continue
		}
		wd, ok := parseDay(s)
		switch {
		case !ok:
			d.Add(it, yamlx.Index(path, i), "unknown day %q: use sun, mon, tue, wed, thu, fri or sat", s)
		case seen[wd]:
			d.Add(it, yamlx.Index(path, i), "%s is listed twice", dayNames[wd])
		default:
			seen[wd] = true
			out = append(out, dayNames[wd])
		}
	}
	return out
}
