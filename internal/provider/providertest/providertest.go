// Package providertest checks a provider's policy side the way policy files
// are checked: a one-step policy through the provider, decoded by
// internal/policy with only that provider known. For the providers' tests.
package providertest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

// StepPolicy is a policy file named "t" with people (the YAML lines under
// `people:`), one step notifying notify, with the step's other lines
// (strategy and options, indented four spaces), one via entry of name with
// settings (a YAML flow mapping), and wait.
func StepPolicy(people, notify, step, name, settings, wait string) string {
	return fmt.Sprintf("name: t\npeople:\n%s\nsteps:\n  - notify: %s\n%s\n    via:\n      - %s: %s\n    wait: %s\n",
		strings.TrimRight(people, "\n"), notify, step, name, settings, wait)
}

// Problems decodes policy (file p.yaml) with kind as the only provider and
// returns its problems, one a string, in order; nil when there are none.
func Problems(t testing.TB, kind provider.Kind, policyYAML string) []string {
	t.Helper()
	_, err := policy.ParseWith(policy.Options{Providers: provider.Kinds{kind}}, "p.yaml", []byte(policyYAML))
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// Kind is the Kind spec's setup gives for env (the deployment's view of
// the provider).
func Kind(t testing.TB, spec dispatch.Spec, env map[string]string) provider.Kind {
	t.Helper()
	s, err := spec.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return s.Kind()
}

// WantProblems fails t unless policy decodes with exactly the problems want
// (none: nil), in order.
func WantProblems(t testing.TB, kind provider.Kind, policyYAML string, want []string) {
	t.Helper()
	got := Problems(t, kind, policyYAML)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Case is one row of a provider's policy-check table: a step notifying
// Notify with the lines Step, through the provider with Settings, checked
// with answered detection on or off; Want are its problems, exactly.
type Case struct {
	Name          string
	CheckAnswered bool
	Notify, Step  string
	Settings      string
	Want          []string
}
