package ccai_test

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/dispatch/ccai"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/yamlx"
)

// decodeProblems decodes settings (a YAML flow mapping) as the via entry
// steps[0].via[0].<kind> of a step, written on line 1 of p.yaml, and
// returns its problems.
func decodeProblems(t *testing.T, k provider.Kind, settings string, step provider.Step) []string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(k.Name()+": "+settings), &doc); err != nil {
		t.Fatal(err)
	}
	m := doc.Content[0]
	d := &yamlx.Decoder{File: "p.yaml"}
	k.Decode(d, m.Content[1], m.Content[0], "steps[0].via[0]."+k.Name(), step)
	var out []string
	for _, p := range d.Problems {
		out = append(out, p.String())
	}
	return out
}

// TestPolicyCheckOfNumbers: policy check looks at every number CCAI
// Platform would be asked to call — a person's phone and further numbers,
// or their numbers for ccai alone — and names the person and the number it
// cannot send.
func TestPolicyCheckOfNumbers(t *testing.T) {
	const (
		good = "+12052345678"
		bad  = "+1205"
	)
	badErr := `phone number "+1205" is not a valid number for country code +1`
	tests := []struct {
		name   string
		person provider.Person
		want   []string
	}{
		{name: "every number fits", person: provider.Person{Name: "maria", Phone: good, Alternates: []string{"+18596579625"}}},
		{name: "a further number that does not",
			person: provider.Person{Name: "maria", Phone: good, Alternates: []string{bad}},
			want:   []string{"p.yaml:1:1: steps[0].via[0].ccai: maria's number " + bad + " cannot be called through CCAI Platform: " + badErr}},
		{name: "a number for ccai that does not",
			person: provider.Person{Name: "maria", Phone: good, ByProvider: map[string][]string{ccai.Name: {bad}}},
			want:   []string{"p.yaml:1:1: steps[0].via[0].ccai: maria's number " + bad + " cannot be called through CCAI Platform: " + badErr}},
		{name: "numbers for ccai replace the others",
			person: provider.Person{Name: "maria", Phone: bad, ByProvider: map[string][]string{ccai.Name: {good}}}},
		{name: "numbers for another provider are not ccai's",
			person: provider.Person{Name: "maria", Phone: good, ByProvider: map[string][]string{"yemot": {bad}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step := provider.Step{Strategy: provider.Single, AtOnce: 1, People: []provider.Person{tt.person}}
			got := decodeProblems(t, ccai.Kind{}, "{agents: [desk@example.com]}", step)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
