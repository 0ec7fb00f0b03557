package console

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// palettes reads the colour custom properties of app.css: the light ones
// (the first :root block) and the dark ones (the :root block inside the
// prefers-color-scheme: dark media query), the dark falling back to light.
func palettes(t *testing.T, css string) (light, dark map[string]string) {
	t.Helper()
	root := regexp.MustCompile(`(?s):root\s*\{(.*?)\}`)
	decl := regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;`)
	read := func(block string) map[string]string {
		m := map[string]string{}
		for _, d := range decl.FindAllStringSubmatch(block, -1) {
			m[d[1]] = d[2]
		}
		return m
	}
	blocks := root.FindAllStringSubmatchIndex(css, -1)
	darkAt := strings.Index(css, "prefers-color-scheme: dark")
	if len(blocks) < 2 || darkAt < 0 {
		t.Fatal("app.css: want a :root block and a dark :root block")
	}
	light = read(css[blocks[0][2]:blocks[0][3]])
	dark = map[string]string{}
	for k, v := range light {
		dark[k] = v
	}
	for _, b := range blocks[1:] {
		if b[0] > darkAt {
			for k, v := range read(css[b[2]:b[3]]) {
				dark[k] = v
			}
			break
		}
	}
	return light, dark
}

// luminance is the WCAG 2 relative luminance of #rrggbb.
func luminance(hex string) (float64, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil || len(hex) != 7 {
		return 0, fmt.Errorf("colour %q: want #rrggbb", hex)
	}
	lin := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(n>>16&0xff) + 0.7152*lin(n>>8&0xff) + 0.0722*lin(n&0xff), nil
}

// contrast is the WCAG 2 contrast ratio of two colours.
func contrast(a, b string) (float64, error) {
	la, err := luminance(a)
	if err != nil {
		return 0, err
	}
	lb, err := luminance(b)
	if err != nil {
		return 0, err
	}
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05), nil
}

func TestContrastRatio(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#ffffff", "#ffffff", 1},
		{"#777777", "#ffffff", 4.48}, // the classic near miss
	} {
		got, err := contrast(tt.a, tt.b)
		if err != nil || math.Abs(got-tt.want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.2f, %v; want %.2f", tt.a, tt.b, got, err, tt.want)
		}
	}
}

// TestContrast: every pair of colours the console shows text in (text on
// its background, a badge's text on the badge, a button's label on the
// button, a link, an error, a toast) passes WCAG AA, 4.5:1, in the light
// and the dark palette; the borders of inputs and the focus ring against
// the background pass 3:1 (non-text contrast).
func TestContrast(t *testing.T) {
	light, dark := palettes(t, string(load().assets["app.css"].body))
	text := [][2]string{
		{"fg", "bg"}, {"muted", "bg"}, {"fg", "card"}, {"muted", "card"},
		{"accent", "bg"}, {"accent", "card"}, {"error", "bg"}, {"error", "card"},
		{"accent-fg", "accent"}, {"danger-fg", "danger"}, {"ok-fg", "ok"}, {"warn-fg", "warn"},
		{"quiet-fg", "quiet"}, {"ended-fg", "ended"},
		{"bg", "fg"},     // a toast
		{"bg", "error"},  // a toast that says something failed
		{"danger", "bg"}, // the "now" on the time axis
	}
	ui := [][2]string{{"border", "bg"}, {"border", "card"}, {"focus", "bg"}, {"focus", "card"}}
	for _, p := range []struct {
		name   string
		colour map[string]string
	}{{"light", light}, {"dark", dark}} {
		check := func(pairs [][2]string, min float64) {
			for _, pair := range pairs {
				fg, bg := p.colour[pair[0]], p.colour[pair[1]]
				if fg == "" || bg == "" {
					t.Errorf("%s: --%s or --%s is not defined", p.name, pair[0], pair[1])
					continue
				}
				r, err := contrast(fg, bg)
				if err != nil {
					t.Error(err)
					continue
				}
				if r < min {
					t.Errorf("%s: --%s %s on --%s %s: %.2f:1, want at least %.1f:1", p.name, pair[0], fg, pair[1], bg, r, min)
				}
			}
		}
		check(text, 4.5)
		check(ui, 3)
	}
}
