package provider

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/yamlx"
)

// Settings is a step's settings for one provider: the mapping under the
// provider's name in a via entry, decoded by the provider's Kind. Each
// provider's folder defines its own type; it must encode to JSON and back
// (the engine snapshots a running escalation's policy).
type Settings interface {
	// Provider is the provider's name, the key the settings were under.
	Provider() string
}

// Step is what a provider's settings are checked against: the step that
// uses them.
type Step struct {
	Strategy     Strategy
	StopOnAnswer bool
	PassOn       bool
	// AtOnce is how many people the step calls at most (one for the person
	// on call, everyone listed otherwise).
	AtOnce int
	// People is everyone the step may ever call (a roster's overrides
	// included), for checks of their numbers.
	People []Person
}

// Kind is one provider as the policy files see it: its name in a via entry,
// and how its settings are read and checked. A Kind may carry what the
// deployment says about the provider (IoTCall's country ids).
type Kind interface {
	// Name is the provider's name: the key of its settings in a via entry.
	Name() string
	// Decode reads the settings mapping n, written at path, checks it
	// against the step, and reports every problem to d (at is the node of
	// the provider's key, for problems about the step as a whole). It
	// returns the settings, even with problems, or nil when n cannot be
	// read at all.
	Decode(d *yamlx.Decoder, n, at *yaml.Node, path string, step Step) Settings
}

// Kinds are the providers a deployment knows, in the order messages list them.
type Kinds []Kind

// Lookup returns the kind named name, or nil.
func (ks Kinds) Lookup(name string) Kind {
	for _, k := range ks {
		if k.Name() == name {
			return k
		}
	}
	return nil
}

// Names returns the kinds' names, in order.
func (ks Kinds) Names() []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.Name()
	}
	return out
}

// Via is one link of a step's fallback chain: a provider and its settings.
// In JSON it is {"provider": "<name>", "<name>": {settings}}, the shape the
// escalation records have always had.
type Via struct {
	Provider string
	Settings Settings
}

// Raw is settings read back from JSON, not yet decoded into the provider's
// own type (the vocabulary does not know the providers' types): As decodes
// them.
type Raw struct {
	Name string
	JSON json.RawMessage
}

// Provider implements Settings.
func (r Raw) Provider() string { return r.Name }

// MarshalJSON implements json.Marshaler.
func (v Via) MarshalJSON() ([]byte, error) {
	var settings any = v.Settings
	if r, ok := v.Settings.(Raw); ok {
		settings = r.JSON
	}
	m := map[string]any{"provider": v.Provider}
	if settings != nil {
		m[v.Provider] = settings
	}
	return json.Marshal(m)
}

// UnmarshalJSON implements json.Unmarshaler: the settings become Raw.
func (v *Via) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	var name string
	if err := json.Unmarshal(m["provider"], &name); err != nil || name == "" {
		return errors.New("via: no provider name")
	}
	v.Provider, v.Settings = name, nil
	if raw, ok := m[name]; ok && !bytes.Equal(raw, []byte("null")) {
		v.Settings = Raw{Name: name, JSON: raw}
	}
	return nil
}

// As returns v's settings as the provider's own type T: as they are when
// they were decoded from a policy file, or decoded from Raw JSON.
func As[T Settings](v Via) (T, error) {
	var zero T
	switch s := v.Settings.(type) {
	case T:
		return s, nil
	case Raw:
		var t T
		if err := json.Unmarshal(s.JSON, &t); err != nil {
			return zero, fmt.Errorf("read %s settings: %w", v.Provider, err)
		}
		return t, nil
	case nil:
		return zero, fmt.Errorf("read %s settings: none", v.Provider)
	default:
		return zero, fmt.Errorf("read %s settings: %T is not %T", v.Provider, s, zero)
	}
}

// Dialed is a number as a provider's API receives it.
type Dialed struct {
	Number string
	// CountryID is IoTCall's international_prefix_id, for a provider that
	// sends one (0: none).
	CountryID int
}

// Dialer is the optional ability of a Kind to say how the provider will
// send a number (for `policy simulate`), or why it cannot.
type Dialer interface {
	Dial(e164 string) (Dialed, error)
}
