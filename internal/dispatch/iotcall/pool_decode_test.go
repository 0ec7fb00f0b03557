package iotcall_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/provider/providertest"
)

// poolPolicy is a one-step broadcast policy of two people through IoTCall
// with settings; the via entry is on line 9, its settings from column 18.
func poolPolicy(settings string) string {
	return providertest.StepPolicy("  aiko: {phone: \"+81 80-4339-1234\"}\n  bob: {phone: \"+81 80-4339-1235\"}",
		"[aiko, bob]", "    strategy: broadcast", iotcall.Name, settings, "5m")
}

// TestPolicyCheckOfRulePools: a step takes one rule or a pool of rules,
// exactly one of the two; a pool names at least one rule, each a URL key,
// each once.
func TestPolicyCheckOfRulePools(t *testing.T) {
	const p = "p.yaml:9:"
	tests := []struct {
		name, settings string
		want           []string
		wantSettings   iotcall.Settings
		wantJSON       string
		wantString     string // in policy simulate
	}{
		{name: "one rule, as always", settings: "{rule: r1}",
			wantSettings: iotcall.Settings{Rule: "r1"}, wantJSON: `{"rule":"r1"}`, wantString: "rule r1"},
		{name: "a pool", settings: "{rules: [db-1, db-2]}",
			wantSettings: iotcall.Settings{Rules: []string{"db-1", "db-2"}}, wantJSON: `{"rule":"","rules":["db-1","db-2"]}`,
			wantString: "any free rule of db-1, db-2"},
		{name: "a pool of one", settings: "{rules: [db-1]}",
			wantSettings: iotcall.Settings{Rules: []string{"db-1"}}, wantJSON: `{"rule":"","rules":["db-1"]}`,
			wantString: "rule db-1"},
		{name: "both rule and rules", settings: "{rule: r1, rules: [db-1, db-2]}",
			want: []string{p + "18: steps[0].via[0].iotcall: is either rule: <key> (one rule) or rules: [<key>, ...] (a pool of rules of the same call type), not both"}},
		{name: "neither", settings: "{}",
			want: []string{p + "18: steps[0].via[0].iotcall.rule: is required: the rule's URL key (or rules: [<key>, ...], a pool of rules of the same call type)"}},
		{name: "empty pool", settings: "{rules: []}",
			want: []string{p + "26: steps[0].via[0].iotcall.rules: must name at least one rule (or write rule: <key> for one)"}},
		{name: "rules not a list", settings: "{rules: db-1}",
			want: []string{p + "26: steps[0].via[0].iotcall.rules: must be a list, got \"db-1\""}},
		{name: "a rule listed twice", settings: "{rules: [db-1, db-2, db-1]}",
			want: []string{p + "39: steps[0].via[0].iotcall.rules[2]: \"db-1\" is listed twice"}},
		{name: "a bad key in a pool", settings: "{rules: [db-1, \"ar/db-2\"]}",
			want: []string{p + "33: steps[0].via[0].iotcall.rules[1]: must be the URL key alone (the last part of .../ar/<key>), got \"ar/db-2\""}},
		{name: "an empty key in a pool", settings: "{rules: [db-1, \"\"]}",
			want: []string{p + "33: steps[0].via[0].iotcall.rules[1]: must not be empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policyYAML := poolPolicy(tt.settings)
			providertest.WantProblems(t, iotcall.Kind{}, policyYAML, tt.want)
			if tt.want != nil {
				return
			}
			ps, err := policy.ParseWith(policy.Options{Providers: provider.Kinds{iotcall.Kind{}}}, "p.yaml", []byte(policyYAML))
			if err != nil {
				t.Fatal(err)
			}
			got, err := provider.As[iotcall.Settings](ps[0].Steps[0].Via[0])
			if err != nil {
				t.Fatal(err)
			}
			if got.Rule != tt.wantSettings.Rule || !slices.Equal(got.Rules, tt.wantSettings.Rules) {
				t.Errorf("settings %+v, want %+v", got, tt.wantSettings)
			}
			if got.String() != tt.wantString {
				t.Errorf("String() = %q, want %q", got.String(), tt.wantString)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.wantJSON {
				t.Errorf("JSON %s, want %s", b, tt.wantJSON)
			}
			// A stored snapshot reads back the same.
			var back iotcall.Settings
			if err := json.Unmarshal(b, &back); err != nil || back.Rule != got.Rule || !slices.Equal(back.Rules, got.Rules) {
				t.Errorf("JSON round trip: %+v (%v), want %+v", back, err, got)
			}
		})
	}
}
