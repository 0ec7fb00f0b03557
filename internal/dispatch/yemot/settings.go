package yemot

import (
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/phone"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/yamlx"
)

// Name is Yemot's name in policies, metrics and outcome events.
const Name = "yemot"

// Settings are a step's Yemot settings.
type Settings struct {
	IVRPath  string `json:"ivr_path,omitempty"`
	CallerID string `json:"caller_id,omitempty"`
	// Ring is the ring time (callsTimeOut); at most MaxRing, 0 means
	// Yemot's default.
	Ring time.Duration `json:"ring,omitempty"`
	// Tzintuk adds a free "ping" ring (RunTzintuk) before the campaign.
	Tzintuk bool `json:"tzintuk,omitempty"`
}

// Provider implements provider.Settings.
func (Settings) Provider() string { return Name }

// Kind is Yemot as the policy files see it.
type Kind struct{}

// Name implements provider.Kind.
func (Kind) Name() string { return Name }

// Decode implements provider.Kind: `yemot: {ivr_path, caller_id, ring,
// tzintuk}`, all optional. A campaign calls at most MaxPhones numbers and
// rings at most MaxRing, in whole seconds.
func (Kind) Decode(d *yamlx.Decoder, n, at *yaml.Node, path string, step provider.Step) provider.Settings {
	f, _, ok := d.Fields(n, path, "ivr_path", "caller_id", "ring", "tzintuk")
	if !ok {
		return nil
	}
	v := Settings{}
	if x := f["ivr_path"]; x != nil {
		v.IVRPath, _ = d.NonEmpty(x, yamlx.Join(path, "ivr_path"))
	}
	if x := f["caller_id"]; x != nil {
		if s, ok := d.NonEmpty(x, yamlx.Join(path, "caller_id")); ok {
			if strings.Trim(s, "0123456789") != "" {
				d.Add(x, yamlx.Join(path, "caller_id"), "must be digits only, as Yemot shows numbers, got %q", s)
			}
			v.CallerID = s
		}
	}
	if x := f["ring"]; x != nil {
		if r, ok := d.Duration(x, yamlx.Join(path, "ring")); ok {
			switch {
			case r <= 0:
				d.Add(x, yamlx.Join(path, "ring"), "must be positive")
			case r > MaxRing:
				d.Add(x, yamlx.Join(path, "ring"), "Yemot rings at most %s, got %s", MaxRing, r)
			case r%time.Second != 0:
				d.Add(x, yamlx.Join(path, "ring"), "must be whole seconds, got %s", r)
			}
			v.Ring = r
		}
	}
	if x := f["tzintuk"]; x != nil {
		v.Tzintuk = d.Bool(x, yamlx.Join(path, "tzintuk"))
	}
	if step.AtOnce > MaxPhones {
		d.Add(at, path, "a Yemot campaign calls at most %d numbers, but this step calls %d", MaxPhones, step.AtOnce)
	}
	return v
}

// String describes the settings in a few words, for `policy simulate`.
func (s Settings) String() string {
	var parts []string
	if s.IVRPath != "" {
		parts = append(parts, "ivr_path "+s.IVRPath)
	}
	if s.CallerID != "" {
		parts = append(parts, "caller_id "+s.CallerID)
	}
	if s.Ring > 0 {
		parts = append(parts, "ring "+compact(s.Ring))
	}
	if s.Tzintuk {
		parts = append(parts, "tzintuk first")
	}
	return strings.Join(parts, "; ")
}

// compact formats a duration without zero units: 90s → 1m30s, 5m0s → 5m.
func compact(d time.Duration) string {
	s := d.String()
	for _, suf := range []string{"m0s", "h0m"} {
		if len(s) > len(suf) && s[len(s)-len(suf):] == suf {
			s = s[:len(s)-len(suf)+1]
		}
	}
	return s
}

// Dial implements provider.Dialer.
func (Kind) Dial(e164 string) (provider.Dialed, error) {
	n, err := phone.Yemot(e164)
	return provider.Dialed{Number: n}, err
}
