package yemot_test

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
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

// withNumbers returns n people with two numbers each.
func withNumbers(n int) []provider.Person {
	out := make([]provider.Person, n)
	for i := range out {
		out[i] = provider.Person{Name: fmt.Sprintf("p%d", i), Phone: fmt.Sprintf("+97252%07d", 2000000+i),
			Alternates: []string{fmt.Sprintf("+97253%07d", 2000000+i)}}
	}
	return out
}

// TestPolicyCheckOfNumbers: policy check looks at every number Yemot would
// dial — a person's phone and further numbers, or their numbers for Yemot
// alone — and names the person and the number it cannot send; a campaign's
// 500 numbers are those dialled at once (a person's first number; a number
// two people share, once), not every number of every person.
func TestPolicyCheckOfNumbers(t *testing.T) {
	const bad = "+8112"
	badErr := `phone number "+8112" is not a valid number for country code +81`
	shared := withNumbers(501)
	shared[500].Phone = shared[0].Phone
	tests := []struct {
		name string
		step provider.Step
		want []string
	}{
		{name: "300 people with two numbers each, at once",
			step: provider.Step{Strategy: provider.Broadcast, AtOnce: 300, People: withNumbers(300)}},
		{name: "501 people at once",
			step: provider.Step{Strategy: provider.Broadcast, AtOnce: 501, People: withNumbers(501)},
			want: []string{"p.yaml:1:1: steps[0].via[0].yemot: a Yemot campaign calls at most 500 numbers, but this step calls 501"}},
		{name: "501 people at once, two of them on one number",
			step: provider.Step{Strategy: provider.Broadcast, AtOnce: 501, People: shared}},
		{name: "one of 600 on call",
			step: provider.Step{Strategy: provider.Single, AtOnce: 1, People: withNumbers(600)}},
		{name: "a further number Yemot cannot be sent",
			step: provider.Step{Strategy: provider.Single, AtOnce: 1,
				People: []provider.Person{{Name: "noa", Phone: "+972522345678", Alternates: []string{bad}}}},
			want: []string{"p.yaml:1:1: steps[0].via[0].yemot: noa's number " + bad + " cannot be called through Yemot: " + badErr}},
		{name: "a number for Yemot it cannot be sent",
			step: provider.Step{Strategy: provider.Single, AtOnce: 1,
				People: []provider.Person{{Name: "noa", Phone: "+972522345678", ByProvider: map[string][]string{yemot.Name: {bad}}}}},
			want: []string{"p.yaml:1:1: steps[0].via[0].yemot: noa's number " + bad + " cannot be called through Yemot: " + badErr}},
		{name: "numbers for Yemot replace the others",
			step: provider.Step{Strategy: provider.Single, AtOnce: 1,
				People: []provider.Person{{Name: "noa", Phone: bad, ByProvider: map[string][]string{yemot.Name: {"+972522345678"}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeProblems(t, yemot.Kind{CheckAnswered: true}, `{ivr_path: "ivr2:/1"}`, tt.step)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
