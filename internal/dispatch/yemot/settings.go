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

// Kind is Yemot as the policy files see it, with what the deployment says
// of it.
type Kind struct {
	// CheckAnswered is YEMOT_CHECK_ANSWERED: the worker asks
	// GetCampaignStatus whether a call was answered, which a rotation needs
	// to stop when someone answers.
	CheckAnswered bool
}

// Name implements provider.Kind.
func (Kind) Name() string { return Name }

// The problems of a step that asks Yemot for what it cannot do. Each says
// why and what to use instead; the IoTCall call types are named as
// IoTCall's dashboard (and manual) names them.
const (
	noStopOnAnswer = "yemot cannot stop other phones ringing when one answers; " +
		"use an iotcall rule of type 一斉(誰か受電したら終了), or drop stop_on_answer"
	noPassOn = "yemot cannot let the person who answers pass the call on to the next; " +
		"use an iotcall rule of type 輪番(「9」で次へ), or drop pass_on"
	noRotation = "yemot can stop a rotation when someone answers only with answered detection, " +
		"which is off (YEMOT_CHECK_ANSWERED is not true); set YEMOT_CHECK_ANSWERED=true on the workers, " +
		"or use an iotcall rule of type 輪番"
	needIVRPath = "is required: the extension (שלוחה) answered calls are put into, e.g. ivr2:/1/100"
)

// Decode implements provider.Kind: `yemot: {ivr_path, caller_id, ring,
// tzintuk}`. ivr_path is required (the manual lists it among the required
// parameters and gives it no default); the others are optional. A campaign
// calls at most MaxPhones numbers and rings at most MaxRing, in whole
// seconds. Every number Yemot would dial (each person's numbers for Yemot,
// Person.Numbers) must be one it can be sent.
//
// A strategy means the same on every provider, or the step is refused:
//   - stop_on_answer: a Yemot campaign has no command to stop its other
//     numbers when one answers (the manual documents none), so the promise
//     cannot be kept;
//   - pass_on: nothing in Yemot lets the person who answers hand the call on;
//   - rotation: the client calls one person at a time and stops when
//     someone answers, which it can tell only with answered detection
//     (GetCampaignStatus, k.CheckAnswered). Without it a rotation that may
//     call more than one person is refused; a rotation of one person is a
//     single call and needs no detection.
func (k Kind) Decode(d *yamlx.Decoder, n, at *yaml.Node, path string, step provider.Step) provider.Settings {
	f, _, ok := d.Fields(n, path, "ivr_path", "caller_id", "ring", "tzintuk")
	if !ok {
		return nil
	}
	v := Settings{}
	if x := f["ivr_path"]; x == nil {
		d.Add(n, yamlx.Join(path, "ivr_path"), needIVRPath)
	} else {
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
	if n := atOnce(step); n > MaxPhones {
		d.Add(at, path, "a Yemot campaign calls at most %d numbers, but this step calls %d", MaxPhones, n)
	}
	for _, p := range step.People {
		for _, n := range p.Numbers(Name) {
			if err := dialable(n); err != nil {
				d.Add(at, path, "%s's number %s cannot be called through Yemot: %v", p.Name, n, err)
			}
		}
	}
	// An option on the wrong strategy is the step's problem, reported once
	// by the policy package, not here again.
	if step.StopOnAnswer && step.Strategy == provider.Broadcast {
		d.Add(at, path, noStopOnAnswer)
	}
	if step.PassOn && step.Strategy == provider.Rotation {
		d.Add(at, path, noPassOn)
	}
	if step.Strategy == provider.Rotation && step.AtOnce > 1 && !k.CheckAnswered {
		d.Add(at, path, noRotation)
	}
	return v
}

// atOnce is how many numbers the step has Yemot dial at once: one number
// for each person called at once (a person's next number is dialled only
// once the one before failed, in a campaign of its own), and a number two
// people share once (the client merges them). When the step calls everyone
// at once, those are the distinct first numbers of its people.
func atOnce(step provider.Step) int {
	if step.AtOnce < len(step.People) {
		return step.AtOnce
	}
	first := make(map[string]bool, len(step.People))
	for _, p := range step.People {
		if ns := p.Numbers(Name); len(ns) > 0 {
			first[ns[0]] = true
		}
	}
	return len(first)
}

// dialable tells whether Yemot can be sent the number e164. Numbers are looked at once.
func dialable(e164 string) error {
	_, err := dialables.Get(e164)
	return err
}

var dialables = phone.NewMemo(phone.Yemot)

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
