package yemot_test

import (
	"testing"

	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/provider/providertest"
)

// stepPolicy is a policy of one step through Yemot: step is the step's
// mapping after `notify`, yemotSettings the via entry's settings.
func stepPolicy(notify, step, yemotSettings string) string {
	return providertest.StepPolicy(`  noa: {phone: "+972 52-234-5678"}
  eitan: {phone: "+972 52-345-6789"}`, notify, step, yemot.Name, yemotSettings, "5m")
}

// TestPolicyCheck: what a Yemot step may promise. Each strategy means the
// same on every provider, or the step is refused with the reason and the
// alternative.
func TestPolicyCheck(t *testing.T) {
	const ivr = `{ivr_path: "ivr2:/1/100", ring: 30s}`
	tests := []struct {
		name          string
		checkAnswered bool
		notify, step  string
		settings      string
		want          []string // problems, exactly
	}{
		{name: "broadcast", notify: "[noa, eitan]", step: "    strategy: broadcast", settings: ivr},
		{name: "broadcast, stop_on_answer", notify: "[noa, eitan]", step: "    strategy: broadcast\n    stop_on_answer: true",
			settings: ivr, checkAnswered: true,
			want: []string{"p.yaml:10:9: steps[0].via[0].yemot: yemot cannot stop other phones ringing when one answers; " +
				"use an iotcall rule of type 一斉(誰か受電したら終了), or drop stop_on_answer"}},
		{name: "rotation with answered detection", notify: "[noa, eitan]", step: "    strategy: rotation",
			settings: ivr, checkAnswered: true},
		{name: "rotation without answered detection", notify: "[noa, eitan]", step: "    strategy: rotation", settings: ivr,
			want: []string{"p.yaml:9:9: steps[0].via[0].yemot: yemot can stop a rotation when someone answers only with " +
				"answered detection, which is off (YEMOT_CHECK_ANSWERED is not true); set YEMOT_CHECK_ANSWERED=true on the workers, " +
				"or use an iotcall rule of type 輪番"}},
		{name: "rotation of one without answered detection: a single call", notify: "[noa]", step: "    strategy: rotation", settings: ivr},
		{name: "rotation, pass_on", notify: "[noa, eitan]", step: "    strategy: rotation\n    pass_on: true",
			settings: ivr, checkAnswered: true,
			want: []string{"p.yaml:10:9: steps[0].via[0].yemot: yemot cannot let the person who answers pass the call on to the next; " +
				"use an iotcall rule of type 輪番(「9」で次へ), or drop pass_on"}},
		{name: "pass_on on a broadcast: the step's problem, reported once", notify: "[noa, eitan]",
			step: "    strategy: broadcast\n    pass_on: true", settings: ivr,
			want: []string{"p.yaml:8:14: steps[0].pass_on: applies only to strategy rotation, not broadcast"}},
		{name: "no ivr_path", notify: "[noa]", step: "    strategy: single", settings: "{ring: 30s, tzintuk: true}",
			want: []string{"p.yaml:9:16: steps[0].via[0].yemot.ivr_path: is required: the extension (שלוחה) answered calls are put into, e.g. ivr2:/1/100"}},
		{name: "empty ivr_path", notify: "[noa]", step: "    strategy: single", settings: `{ivr_path: ""}`,
			want: []string{"p.yaml:9:27: steps[0].via[0].yemot.ivr_path: must not be empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			providertest.WantProblems(t, yemot.Kind{CheckAnswered: tt.checkAnswered}, stepPolicy(tt.notify, tt.step, tt.settings), tt.want)
		})
	}
}

// TestKindFollowsTheDeployment: the worker checks policies with the Kind
// its environment gives; YEMOT_CHECK_ANSWERED=true lets a rotation through.
func TestKindFollowsTheDeployment(t *testing.T) {
	rotation := stepPolicy("[noa, eitan]", "    strategy: rotation", `{ivr_path: "ivr2:/1"}`)
	for _, tc := range []struct {
		env    map[string]string
		wantOK bool
	}{
		{map[string]string{"YEMOT_TOKEN": "0770000000:pw"}, false},
		{map[string]string{"YEMOT_TOKEN": "0770000000:pw", "YEMOT_CHECK_ANSWERED": "true"}, true},
	} {
		problems := providertest.Problems(t, providertest.Kind(t, yemot.Spec{}, tc.env), rotation)
		if (problems == nil) != tc.wantOK {
			t.Errorf("env %v: rotation gives %v; want accepted %v", tc.env, problems, tc.wantOK)
		}
	}
}
