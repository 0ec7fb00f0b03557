package policy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/escalator-oss/escalator/internal/alert"
)

// Match is the condition a policy puts on alerts. Every condition must hold;
// an empty Match matches every alert.
type Match struct {
	// Labels must be present with exactly these values.
	Labels map[string]string `json:"labels,omitempty"`
	// LabelsRegex must be present and match these regular expressions, which
	// are anchored: "db-.*" must match the whole value.
	LabelsRegex map[string]string `json:"labels_regex,omitempty"`
	// Severity, when not empty, lists the severities accepted (case-insensitive).
	Severity []string `json:"severity,omitempty"`

	// re holds the compiled LabelsRegex, set by Parse and UnmarshalJSON.
	re map[string]*regexp.Regexp
}

type matchJSON struct {
	Labels      map[string]string `json:"labels,omitempty"`
	LabelsRegex map[string]string `json:"labels_regex,omitempty"`
	Severity    []string          `json:"severity,omitempty"`
}

// MarshalJSON writes the match's conditions; regexes are kept as source.
func (m Match) MarshalJSON() ([]byte, error) {
	return json.Marshal(matchJSON{m.Labels, m.LabelsRegex, m.Severity})
}

// UnmarshalJSON reads the conditions; regexes compile on first use.
func (m *Match) UnmarshalJSON(b []byte) error {
	var j matchJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("decode match: %w", err)
	}
	m.Labels, m.LabelsRegex, m.Severity = j.Labels, j.LabelsRegex, j.Severity
	m.re = compileAll(m.LabelsRegex)
	return nil
}

// compiled returns the compiled regexes; a Match built in code (not by Parse
// or UnmarshalJSON) compiles them on every call.
func (m *Match) compiled() map[string]*regexp.Regexp {
	if m.re != nil || len(m.LabelsRegex) == 0 {
		return m.re
	}
	return compileAll(m.LabelsRegex)
}

func compileAll(srcs map[string]string) map[string]*regexp.Regexp {
	re := make(map[string]*regexp.Regexp, len(srcs))
	for k, src := range srcs {
		if r, err := compileAnchored(src); err == nil {
			re[k] = r
		}
	}
	return re
}

func compileAnchored(src string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + src + ")$")
}

// Explain reports whether ev satisfies the match, and why: one reason per
// condition that held, or the first condition that did not.
func (m *Match) Explain(ev alert.Event) (bool, []string) {
	var why []string
	for _, k := range sortedKeys(m.Labels) {
		want := m.Labels[k]
		got, ok := ev.Labels[k]
		if !ok {
			return false, []string{fmt.Sprintf("label %s is missing, want %q", k, want)}
		}
		if got != want {
			return false, []string{fmt.Sprintf("label %s is %q, want %q", k, got, want)}
		}
		why = append(why, fmt.Sprintf("label %s = %q", k, want))
	}
	re := m.compiled()
	for _, k := range sortedKeys(m.LabelsRegex) {
		src := m.LabelsRegex[k]
		got, ok := ev.Labels[k]
		if !ok {
			return false, []string{fmt.Sprintf("label %s is missing, want a match of /%s/", k, src)}
		}
		r := re[k]
		if r == nil || !r.MatchString(got) {
			return false, []string{fmt.Sprintf("label %s is %q, which does not match /%s/", k, got, src)}
		}
		why = append(why, fmt.Sprintf("label %s = %q matches /%s/", k, got, src))
	}
	if len(m.Severity) > 0 {
		sev := strings.ToLower(ev.Severity)
		found := false
		for _, s := range m.Severity {
			if strings.ToLower(s) == sev {
				found = true
				break
			}
		}
		list := "[" + strings.Join(m.Severity, ", ") + "]"
		if !found {
			return false, []string{fmt.Sprintf("severity %q is not in %s", ev.Severity, list)}
		}
		why = append(why, fmt.Sprintf("severity %q is in %s", ev.Severity, list))
	}
	if len(why) == 0 {
		why = []string{"it matches every alert (empty match)"}
	}
	return true, why
}

// Matches reports whether ev satisfies every condition: Explain's answer,
// without building its reasons (it runs for every policy on every alert).
func (m *Match) Matches(ev alert.Event) bool {
	for k, want := range m.Labels {
		if got, ok := ev.Labels[k]; !ok || got != want {
			return false
		}
	}
	if len(m.LabelsRegex) > 0 {
		re := m.compiled()
		for k := range m.LabelsRegex {
			got, ok := ev.Labels[k]
			if r := re[k]; !ok || r == nil || !r.MatchString(got) {
				return false
			}
		}
	}
	if len(m.Severity) == 0 {
		return true
	}
	sev := strings.ToLower(ev.Severity)
	for _, s := range m.Severity {
		if strings.ToLower(s) == sev {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
