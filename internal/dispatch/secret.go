package dispatch

import "strings"

// Secret is a credential. It prints, formats and marshals as "[REDACTED]";
// only Reveal gives the value, to the one place that sends it.
type Secret string

// Redacted is what a Secret shows instead of its value.
const Redacted = "[REDACTED]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer without the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString implements fmt.GoStringer without the value.
func (s Secret) GoString() string { return `dispatch.Secret("` + s.String() + `")` }

// MarshalText implements encoding.TextMarshaler without the value (and so
// JSON and YAML encoding).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Redactor returns a function that replaces every non-empty secret of
// secrets in a string with "[REDACTED]": a last line of defence for text
// that goes to logs and events.
func Redactor(secrets ...string) func(string) string {
	var olds []string
	for _, s := range secrets {
		if len(s) >= 4 { // shorter "secrets" would redact ordinary text
			olds = append(olds, s, Redacted)
		}
	}
	if len(olds) == 0 {
		return func(s string) string { return s }
	}
	r := strings.NewReplacer(olds...)
	return r.Replace
}
