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
	tests := []providertest.Case{
		{Name: "broadcast", Notify: "[noa, eitan]", Step: "    strategy: broadcast", Settings: ivr},
		{Name: "broadcast, stop_on_answer", Notify: "[noa, eitan]", Step: "    strategy: broadcast\n    stop_on_answer: true",
			Settings: ivr, CheckAnswered: true,
			Want: []string{"p.yaml:10:9: steps[0].via[0].yemot: yemot cannot stop other phones ringing when one answers; " +
				"use an iotcall rule of type 一斉(誰か受電したら終了), or drop stop_on_answer"}},
		{Name: "rotation with answered detection", Notify: "[noa, eitan]", Step: "    strategy: rotation",
			Settings: ivr, CheckAnswered: true},
		{Name: "rotation without answered detection", Notify: "[noa, eitan]", Step: "    strategy: rotation", Settings: ivr,
			Want: []string{"p.yaml:9:9: steps[0].via[0].yemot: yemot can stop a rotation when someone answers only with " +
				"answered detection, which is off (YEMOT_CHECK_ANSWERED is not true); set YEMOT_CHECK_ANSWERED=true on the workers, " +
				"or use an iotcall rule of type 輪番"}},
		{Name: "rotation of one without answered detection: a single call", Notify: "[noa]", Step: "    strategy: rotation", Settings: ivr},
		{Name: "rotation, pass_on", Notify: "[noa, eitan]", Step: "    strategy: rotation\n    pass_on: true",
			Settings: ivr, CheckAnswered: true,
			Want: []string{"p.yaml:10:9: steps[0].via[0].yemot: yemot cannot let the person who answers pass the call on to the next; " +
				"use an iotcall rule of type 輪番(「9」で次へ), or drop pass_on"}},
		{Name: "pass_on on a broadcast: the step's problem, reported once", Notify: "[noa, eitan]",
			Step: "    strategy: broadcast\n    pass_on: true", Settings: ivr,
			Want: []string{"p.yaml:8:14: steps[0].pass_on: applies only to strategy rotation, not broadcast"}},
		{Name: "no ivr_path", Notify: "[noa]", Step: "    strategy: single", Settings: "{ring: 30s, tzintuk: true}",
			Want: []string{"p.yaml:9:16: steps[0].via[0].yemot.ivr_path: is required: the extension (שלוחה) answered calls are put into, e.g. ivr2:/1/100"}},
		{Name: "empty ivr_path", Notify: "[noa]", Step: "    strategy: single", Settings: `{ivr_path: ""}`,
			Want: []string{"p.yaml:9:27: steps[0].via[0].yemot.ivr_path: must not be empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			providertest.WantProblems(t, yemot.Kind{CheckAnswered: tt.CheckAnswered}, stepPolicy(tt.Notify, tt.Step, tt.Settings), tt.Want)
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
