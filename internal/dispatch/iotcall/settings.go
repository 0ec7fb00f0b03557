package iotcall

import (
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/phone"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/yamlx"
)

// Name is IoTCall's name in policies, metrics and outcome events.
const Name = "iotcall"

// Settings are a step's IoTCall settings: one rule (Rule) or a pool of
// rules (Rules), never both.
type Settings struct {
	// Rule is the rule's URL key (the last path part of .../ar/<key>).
	Rule string `json:"rule"`
	// Rules are a pool of rule keys, any free one used for a call, so that
	// concurrent escalations do not queue for one rule's lock. Every rule
	// of a pool must have the call type the step needs (set in IoTCall's
	// dashboard).
	Rules []string `json:"rules,omitempty"`
}

// Pool returns the rule keys a call may use: Rules, or Rule alone.
func (s Settings) Pool() []string {
	if len(s.Rules) > 0 {
		return s.Rules
	}
	if s.Rule == "" {
		return nil
	}
	return []string{s.Rule}
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

// Decode implements provider.Kind: `iotcall: {rule: <key>}`, or a pool of
// rules `iotcall: {rules: [<key>, ...]}`. The manual says every call type
// but 通常 needs two or more numbers, and 通常 calls exactly one; every
// number IoTCall would dial (each person's numbers for IoTCall,
// Person.Numbers) must have a country id. A rule's call type is set in
// IoTCall's dashboard and cannot be read through the API: every rule of a
// pool must have the one the step needs, which the check cannot see.
func (k Kind) Decode(d *yamlx.Decoder, n, at *yaml.Node, path string, step provider.Step) provider.Settings {
	f, _, ok := d.Fields(n, path, "rule", "rules")
	if !ok {
		return nil
	}
	v := Settings{}
	switch r, rs := f["rule"], f["rules"]; {
	case r != nil && rs != nil:
		d.Add(n, path, "is either rule: <key> (one rule) or rules: [<key>, ...] (a pool of rules of the same call type), not both")
	case rs != nil:
		v.Rules = decodePool(d, rs, yamlx.Join(path, "rules"))
	case r == nil:
		d.Add(n, yamlx.Join(path, "rule"), "is required: the rule's URL key (or rules: [<key>, ...], a pool of rules of the same call type)")
	default:
		if key, ok := d.NonEmpty(r, yamlx.Join(path, "rule")); ok {
			checkKey(d, r, yamlx.Join(path, "rule"), key)
			v.Rule = key
		}
	}
	switch count := step.AtOnce; {
	case step.Strategy == provider.Single && count > 1:
		d.Add(at, path, "an IoTCall single rule calls exactly one number, but this step calls %d", count)
	case step.Strategy != provider.Single && count > 0 && count < 2:
		d.Add(at, path, "an IoTCall %s rule needs two or more numbers, but this step calls %d", step.Strategy, count)
	}
	k.checkNumbers(d, at, path, step.People)
	return v
}

// decodePool reads a pool of rule keys: at least one, each a URL key, each
// once.
func decodePool(d *yamlx.Decoder, n *yaml.Node, path string) []string {
	items, ok := d.List(n, path)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.Add(n, path, "must name at least one rule (or write rule: <key> for one)")
		return nil
	}
	var out []string
	for i, it := range items {
		key, ok := d.NonEmpty(it, yamlx.Index(path, i))
		switch {
		case !ok:
		case slices.Contains(out, key):
			d.Add(it, yamlx.Index(path, i), "%q is listed twice", key)
		default:
			checkKey(d, it, yamlx.Index(path, i), key)
			out = append(out, key)
		}
	}
	return out
}

// checkKey reports a rule key that is not a URL key alone.
func checkKey(d *yamlx.Decoder, n *yaml.Node, path, key string) {
	if !ruleKeyPattern.MatchString(key) {
		d.Add(n, path, "must be the URL key alone (the last part of .../ar/<key>), got %q", key)
	}
}

// checkNumbers reports each number of people that IoTCall cannot dial,
// naming the person and the number. When the person has numbers it can
// dial, the problem also says how to give IoTCall those alone.
func (k Kind) checkNumbers(d *yamlx.Decoder, at *yaml.Node, path string, people []provider.Person) {
	for _, p := range people {
		numbers := p.Numbers(Name)
		errs := make([]error, len(numbers))
		var good []string
		for i, n := range numbers {
			if errs[i] = k.dialable(n); errs[i] == nil {
				good = append(good, n)
			}
		}
		for i, err := range errs {
			switch {
			case err == nil:
			case len(good) == 0:
				d.Add(at, path, "%s's number %s cannot be called through IoTCall: %v", p.Name, numbers[i], err)
			default:
				d.Add(at, path, "%s's number %s cannot be called through IoTCall: %v; or give IoTCall only the numbers it can call: "+
					"%s: {by_provider: {%s: [%s]}}", p.Name, numbers[i], err, p.Name, Name, strings.Join(good, ", "))
			}
		}
	}
}

// dialable tells whether IoTCall can dial the number e164: its country
// needs a country id. Numbers are parsed once (see countryCodes).
func (k Kind) dialable(e164 string) error {
	code, err := countryCodes.Get(e164)
	if err == nil {
		ids := k.CountryIDs
		if ids == nil {
			ids = phone.DefaultIoTCallCountryIDs
		}
		if _, ok := ids[code]; ok {
			return nil
		}
	}
	// The problem, worded by the phone package.
	_, _, err = phone.IoTCall(e164, k.CountryIDs)
	return err
}

// countryCodes are the calling codes of the numbers policy check has met.
var countryCodes = phone.NewMemo(phone.CountryCode)

// String describes the settings in a few words, for `policy simulate`.
func (s Settings) String() string {
	if len(s.Rules) > 1 {
		return "any free rule of " + strings.Join(s.Rules, ", ")
	}
	return "rule " + strings.Join(s.Pool(), "")
}

// Dial implements provider.Dialer: the domestic number and its country id.
func (k Kind) Dial(e164 string) (provider.Dialed, error) {
	n, id, err := phone.IoTCall(e164, k.CountryIDs)
	return provider.Dialed{Number: n, CountryID: id}, err
}
