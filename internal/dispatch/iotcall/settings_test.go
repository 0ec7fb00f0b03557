package iotcall_test

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/provider/providertest"
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

// TestPolicyCheckOfNumbers: policy check looks at every number IoTCall
// would dial — a person's phone and further numbers, or their numbers for
// IoTCall alone — and names the person and the number it cannot call.
func TestPolicyCheckOfNumbers(t *testing.T) {
	const (
		jp1 = "+818043391234"
		jp2 = "+818043391235"
		us  = "+14155550100"
		il  = "+972522345678"
	)
	noID := "IoTCall has no country id configured for +1 (set IOTCALL_COUNTRY_IDS, e.g. \"81=1\")"
	tests := []struct {
		name   string
		person provider.Person
		want   []string
	}{
		{name: "every number dialable",
			person: provider.Person{Name: "aiko", Phone: jp1, Alternates: []string{jp2}}},
		{name: "one number, not dialable",
			person: provider.Person{Name: "aiko", Phone: us},
			want:   []string{"p.yaml:1:1: steps[0].via[0].iotcall: aiko's number " + us + " cannot be called through IoTCall: " + noID}},
		{name: "a further number not dialable: IoTCall may be given the others alone",
			person: provider.Person{Name: "aiko", Phone: jp1, Alternates: []string{us, jp2}},
			want: []string{"p.yaml:1:1: steps[0].via[0].iotcall: aiko's number " + us + " cannot be called through IoTCall: " + noID +
				"; or give IoTCall only the numbers it can call: aiko: {by_provider: {iotcall: [" + jp1 + ", " + jp2 + "]}}"}},
		{name: "numbers for IoTCall replace the others",
			person: provider.Person{Name: "aiko", Phone: us, Alternates: []string{il}, ByProvider: map[string][]string{iotcall.Name: {jp1}}}},
		{name: "a number for IoTCall not dialable",
			person: provider.Person{Name: "aiko", Phone: jp1, ByProvider: map[string][]string{iotcall.Name: {us}}},
			want:   []string{"p.yaml:1:1: steps[0].via[0].iotcall: aiko's number " + us + " cannot be called through IoTCall: " + noID}},
		{name: "numbers for another provider are not IoTCall's",
			person: provider.Person{Name: "aiko", Phone: jp1, ByProvider: map[string][]string{"yemot": {us}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step := provider.Step{Strategy: provider.Single, AtOnce: 1, People: []provider.Person{tt.person}}
			got := decodeProblems(t, iotcall.Kind{CountryIDs: map[int]int{81: 1}}, "{rule: r1}", step)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestPolicyCheckFollowsCountryIDs: whether a number can be dialled
// depends on the deployment's country ids, asked again for each Kind.
func TestPolicyCheckFollowsCountryIDs(t *testing.T) {
	step := provider.Step{Strategy: provider.Single, AtOnce: 1,
		People: []provider.Person{{Name: "carol", Phone: "+14155550100"}}}
	for _, tc := range []struct {
		ids  map[int]int
		want int
	}{
		{ids: map[int]int{81: 1}, want: 1},
		{ids: map[int]int{81: 1, 1: 2}, want: 0},
		{ids: nil, want: 1},
	} {
		if got := decodeProblems(t, iotcall.Kind{CountryIDs: tc.ids}, "{rule: r1}", step); len(got) != tc.want {
			t.Errorf("country ids %v: problems %q, want %d", tc.ids, got, tc.want)
		}
	}
}

// TestPolicyFileNumbers: the same check on a policy file, where a person's
// numbers are written as phones (tried in order) and by_provider.
func TestPolicyFileNumbers(t *testing.T) {
	noID := "IoTCall has no country id configured for +1 (set IOTCALL_COUNTRY_IDS, e.g. \"81=1\")"
	tests := []struct {
		name, person string
		want         []string
	}{
		{name: "phones, one not dialable",
			person: `aiko: {phones: ["+81 80-4339-1234", "+1 415 555 0100"]}`,
			want: []string{"p.yaml:8:9: steps[0].via[0].iotcall: aiko's number +14155550100 cannot be called through IoTCall: " + noID +
				"; or give IoTCall only the numbers it can call: aiko: {by_provider: {iotcall: [+818043391234]}}"}},
		{name: "phones, and IoTCall's own",
			person: `aiko: {phones: ["+1 415 555 0100", "+81 80-4339-1234"], by_provider: {iotcall: "+81 80-4339-1234"}}`},
		{name: "phones, every one dialable",
			person: `aiko: {phones: ["+81 80-4339-1234", "+81 80-4339-1235"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy := providertest.StepPolicy("  "+tt.person, "[aiko]", "    strategy: single", iotcall.Name, "{rule: r1}", "5m")
			providertest.WantProblems(t, iotcall.Kind{CountryIDs: map[int]int{81: 1}}, policy, tt.want)
		})
	}
}
