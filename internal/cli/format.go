package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Printer writes the API's answers for people. The zero value writes to
// nothing; set Out.
type Printer struct {
	Out io.Writer
	// Color turns on ANSI colours (Colorful decides).
	Color bool
	// Now is the moment relative times count from (zero: time.Now()).
	Now time.Time
	// Loc is the zone of absolute times (nil: time.Local).
	Loc *time.Location
}

func (p Printer) now() time.Time {
	if p.Now.IsZero() {
		return time.Now()
	}
	return p.Now
}

func (p Printer) loc() *time.Location {
	if p.Loc == nil {
		return time.Local
	}
	return p.Loc
}

// ANSI SGR parameters.
const (
	red     = "31"
	green   = "32"
	yellow  = "33"
	blue    = "34"
	magenta = "35"
	cyan    = "36"
	bold    = "1"
	dim     = "2"
)

// paint wraps s in the colour sgr when colours are on.
func (p Printer) paint(s, sgr string) string {
	if !p.Color || sgr == "" || s == "" {
		return s
	}
	return "\x1b[" + sgr + "m" + s + "\x1b[0m"
}

// Relative writes t relative to now: "in 3m", "12m ago", "now".
func Relative(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now).Round(time.Second)
	switch {
	case d > 0:
		return "in " + span(d)
	case d < 0:
		return span(-d) + " ago"
	}
	return "now"
}

// span writes a positive duration in its two largest units: 2d3h, 8h,
// 1h30m, 45m, 2m30s, 30s (as escalator oncall does).
func span(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	h := int(d % (24 * time.Hour) / time.Hour)
	m := int(d % time.Hour / time.Minute)
	s := int(d % time.Minute / time.Second)
	switch {
	case days > 0 && h > 0:
		return fmt.Sprintf("%dd%dh", days, h)
	case days > 0:
		return fmt.Sprintf("%dd", days)
	case h > 0 && m > 0:
		return fmt.Sprintf("%dh%dm", h, m)
	case h > 0:
		return fmt.Sprintf("%dh", h)
	case m > 0 && s > 0 && m < 10:
		return fmt.Sprintf("%dm%ds", m, s)
	case m > 0:
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%ds", s)
}

// offset writes a timeline's offset as policy simulate does: 0s, 45s,
// 5m, 1h30m, 2m30s.
func offset(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	s := d.String()
	for _, suf := range []string{"m0s", "h0m"} {
		if len(s) > len(suf) && strings.HasSuffix(s, suf) {
			s = s[:len(s)-len(suf)+1]
		}
	}
	return s
}

// when writes t in p's zone and relative to now: "Mon 13:26:33 (12m ago)";
// further than a day away, with the date.
func (p Printer) when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	now := p.now()
	layout := "Mon 15:04:05 MST"
	if d := t.Sub(now); d > 24*time.Hour || d < -24*time.Hour {
		layout = "Mon 2 Jan 2006 15:04 MST"
	}
	return t.In(p.loc()).Format(layout) + " (" + Relative(t, now) + ")"
}

// cell is one cell of a table: its text and its colour.
type cell struct {
	text, sgr string
}

// table writes rows as aligned columns, two spaces apart, measuring the
// text people see (colours do not count), the last column unpadded.
type table struct {
	p    Printer
	rows [][]cell
}

func (t *table) header(names ...string) {
	row := make([]cell, len(names))
	for i, n := range names {
		row[i] = cell{n, bold}
	}
	t.rows = append(t.rows, row)
}

func (t *table) add(cells ...cell) { t.rows = append(t.rows, cells) }

func (t *table) flush(indent string) {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		b.WriteString(indent)
		// Trailing empty cells are left out, so no line ends in spaces.
		last := len(r) - 1
		for last > 0 && r[last].text == "" {
			last--
		}
		for i := 0; i <= last; i++ {
			c := r[i]
			b.WriteString(t.p.paint(c.text, c.sgr))
			if i < last {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text)+2))
			}
		}
		fmt.Fprintln(t.p.Out, b.String())
	}
	t.rows = nil
}

// painted is a cell whose text is coloured already: only for a table's last
// column, which is not padded.
func (p Printer) painted(parts ...cell) cell {
	var text string
	for _, c := range parts {
		text += p.paint(c.text, c.sgr)
	}
	return cell{text: text}
}

// plain is a cell without colour.
func plain(s string) cell { return cell{text: s} }
