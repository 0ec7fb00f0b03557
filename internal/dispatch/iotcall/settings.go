package iotcall

import (
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/phone"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/yamlx"
)

// Name is IoTCall's name in policies, metrics and outcome events.
const Name = "iotcall"

// Settings are a step's IoTCall settings.
type Settings struct {
	// Rule is the rule's URL key (the last path part of .../ar/<key>).
	Rule string `json:"rule"`
}

// Provider implements provider.Settings.
func (Settings) Provider() string { return Name }

var ruleKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_.~-]+$`)

// Kind is IoTCall as the policy files see it.
type Kind struct {
	// CountryIDs are the deployment's calling codes to IoTCall country ids
	// (IOTCALL_COUNTRY_IDS; nil: phone.DefaultIoTCallCountryIDs, Japan = 1).
	// A number whose country has none cannot be called through IoTCall.
	CountryIDs map[int]int
}

// Name implements provider.Kind.
func (Kind) Name() string { return Name }

// Decode implements provider.Kind: `iotcall: {rule: <key>}`. The manual
// says every call type but 通常 needs two or more numbers, and 通常 calls
// exactly one; each number must have a country id.
func (k Kind) Decode(d *yamlx.Decoder, n, at *yaml.Node, path string, step provider.Step) provider.Settings {
	f, _, ok := d.Fields(n, path, "rule")
	if !ok {
		return nil
	}
	v := Settings{}
	if r := f["rule"]; r == nil {
		d.Add(n, yamlx.Join(path, "rule"), "is required: the rule's URL key")
	} else if key, ok := d.NonEmpty(r, yamlx.Join(path, "rule")); ok {
		if !ruleKeyPattern.MatchString(key) {
			d.Add(r, yamlx.Join(path, "rule"), "must be the URL key alone (the last part of .../ar/<key>), got %q", key)
		}
		v.Rule = key
	}
	switch count := step.AtOnce; {
	case step.Strategy == provider.Single && count > 1:
		d.Add(at, path, "an IoTCall single rule calls exactly one number, but this step calls %d", count)
	case step.Strategy != provider.Single && count > 0 && count < 2:
		d.Add(at, path, "an IoTCall %s rule needs two or more numbers, but this step calls %d", step.Strategy, count)
	}
	for _, p := range step.People {
		if _, _, err := phone.IoTCall(p.Phone, k.CountryIDs); err != nil {
			d.Add(at, path, "%s's number %s cannot be called through IoTCall: %v", p.Name, p.Phone, err)
		}
	}
	return v
}

// String describes the settings in a few words, for `policy simulate`.
func (s Settings) String() string { return "rule " + s.Rule }

// Dial implements provider.Dialer: the domestic number and its country id.
func (k Kind) Dial(e164 string) (provider.Dialed, error) {
	n, id, err := phone.IoTCall(e164, k.CountryIDs)
	return provider.Dialed{Number: n, CountryID: id}, err
}
