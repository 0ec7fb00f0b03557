package iotcall

import (
	"regexp"
	"strings"
	"sync"

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
// exactly one; every number IoTCall would dial (each person's numbers for
// IoTCall, Person.Numbers) must have a country id.
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
	k.checkNumbers(d, at, path, step.People)
	return v
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
	code, err := countryCodes.of(e164)
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

// countryCodes are the calling codes of the numbers policy check has met:
// it asks for every number of every step through IoTCall, shared rosters
// put the same people in many steps, and parsing a number costs tens of
// microseconds.
var countryCodes = codeMemo{m: map[string]codeOf{}}

type codeOf struct {
	code int
	err  error
}

// codeMemo is a bounded memo of phone.CountryCode. Safe for concurrent use.
type codeMemo struct {
	mu sync.Mutex
	m  map[string]codeOf
}

// memoSize bounds a memo: past it, it starts again empty.
const memoSize = 1 << 14

func (c *codeMemo) of(e164 string) (int, error) {
	c.mu.Lock()
	got, ok := c.m[e164]
	c.mu.Unlock()
	if ok {
		return got.code, got.err
	}
	got.code, got.err = phone.CountryCode(e164)
	c.mu.Lock()
	if len(c.m) >= memoSize {
		clear(c.m)
	}
	c.m[e164] = got
	c.mu.Unlock()
	return got.code, got.err
}

// String describes the settings in a few words, for `policy simulate`.
func (s Settings) String() string { return "rule " + s.Rule }

// Dial implements provider.Dialer: the domestic number and its country id.
func (k Kind) Dial(e164 string) (provider.Dialed, error) {
	n, id, err := phone.IoTCall(e164, k.CountryIDs)
	return provider.Dialed{Number: n, CountryID: id}, err
}
