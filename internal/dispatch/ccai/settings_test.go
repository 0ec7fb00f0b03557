package ccai_test

import (
	"testing"

	"github.com/escalator-oss/escalator/internal/dispatch/ccai"
	"github.com/escalator-oss/escalator/internal/provider/providertest"
)

// stepPolicy is a policy of one step through CCAI: step is the step's
// mapping after `notify`, settings the via entry's ccai settings.
func stepPolicy(notify, step, settings string) string {
	return providertest.StepPolicy(`  maria: {phone: "+1 415 555 2671"}
  sam: {phone: "+1 415 555 2672"}
  kai: {phone: "+1 415 555 2673"}`, notify, step, ccai.Name, settings, "10m")
}

// TestPolicyCheck: what a CCAI step may promise. Each strategy means the
// same on every provider, or policy check refuses the step with the reason
// and the alternative. Before, stop_on_answer and pass_on were accepted and
// ignored, a rotation was accepted without any way to tell when a call
// ended, and a broadcast of more people than agents with no menu left the
// extra people uncalled.
func TestPolicyCheck(t *testing.T) {
	const (
		one  = "{agents: [desk-1@example.com]}"
		two  = "{agents: [desk-1@example.com, desk-2@example.com]}"
		menu = "{agents: [desk-1@example.com], menu_id: 42}"
	)
	tests := []providertest.Case{
		{Name: "single", Notify: "[maria]", Step: "    strategy: single", Settings: one},
		{Name: "broadcast, an agent each", Notify: "[maria, sam]", Step: "    strategy: broadcast", Settings: two},
		{Name: "broadcast, the others into the menu", Notify: "[maria, sam, kai]", Step: "    strategy: broadcast", Settings: menu},
		{Name: "broadcast, more people than agents, no menu", Notify: "[maria, sam, kai]", Step: "    strategy: broadcast", Settings: two,
			Want: []string{"p.yaml:10:9: steps[0].via[0].ccai: a ccai broadcast gives each person an agent of their own " +
				"(an agent takes one call at a time), but this step calls up to 3 people with 2 agents and no menu_id: " +
				"the extra people would never be called; add agents or a menu_id"}},
		{Name: "broadcast, an agent listed twice counts once", Notify: "[maria, sam]", Step: "    strategy: broadcast",
			Settings: "{agents: [desk-1@example.com, desk-1@example.com]}",
			Want: []string{"p.yaml:10:9: steps[0].via[0].ccai: a ccai broadcast gives each person an agent of their own " +
				"(an agent takes one call at a time), but this step calls up to 2 people with 1 agent and no menu_id: " +
				"the extra people would never be called; add agents or a menu_id"}},
		{Name: "broadcast, stop_on_answer", Notify: "[maria, sam]", Step: "    strategy: broadcast\n    stop_on_answer: true", Settings: two,
			CheckAnswered: true,
			Want: []string{"p.yaml:11:9: steps[0].via[0].ccai: ccai cannot stop the other calls when one is answered " +
				"(CCAI Platform's API has no way to end a call); use an iotcall rule of type 一斉(誰か受電したら終了), or drop stop_on_answer"}},
		{Name: "rotation with answered detection", Notify: "[maria, sam]", Step: "    strategy: rotation", Settings: one,
			CheckAnswered: true},
		{Name: "rotation with a ring", Notify: "[maria, sam]", Step: "    strategy: rotation",
			Settings: "{agents: [desk-1@example.com], ring: 45s}", CheckAnswered: true},
		{Name: "rotation without answered detection", Notify: "[maria, sam]", Step: "    strategy: rotation", Settings: one,
			Want: []string{"p.yaml:10:9: steps[0].via[0].ccai: a ccai rotation must know when each call has ended and stop when " +
				"someone answers, which needs answered detection: set CCAI_CHECK_ANSWERED=true on the worker (it reads the Manager " +
				"API's call list), or use a ccai broadcast, or an iotcall rule of type 輪番"}},
		{Name: "rotation of one without answered detection: a single call", Notify: "[maria]", Step: "    strategy: rotation", Settings: one},
		{Name: "rotation, pass_on", Notify: "[maria, sam]", Step: "    strategy: rotation\n    pass_on: true", Settings: one,
			CheckAnswered: true,
			Want: []string{"p.yaml:11:9: steps[0].via[0].ccai: ccai cannot let the person who answers pass the call on to the next " +
				"(CCAI Platform's API has no such option); use an iotcall rule of type 輪番(「9」で次へ), or drop pass_on"}},
		{Name: "pass_on on a broadcast: the policy's own problem only", Notify: "[maria, sam]",
			Step: "    strategy: broadcast\n    pass_on: true", Settings: two,
			Want: []string{"p.yaml:9:14: steps[0].pass_on: applies only to strategy rotation, not broadcast"}},
		{Name: "ring on a broadcast", Notify: "[maria, sam]", Step: "    strategy: broadcast", Settings: "{agents: [a@x.com, b@x.com], ring: 30s}",
			Want: []string{"p.yaml:10:50: steps[0].via[0].ccai.ring: only a rotation uses ring " +
				"(how long one person's turn lasts before the next is called); drop it"}},
		{Name: "ring too long", Notify: "[maria, sam]", Step: "    strategy: rotation", Settings: "{agents: [a@x.com], ring: 10m}",
			CheckAnswered: true,
			Want:          []string{"p.yaml:10:41: steps[0].via[0].ccai.ring: one person's turn lasts at most 5m, got 10m"}},
		{Name: "ring in fractions", Notify: "[maria, sam]", Step: "    strategy: rotation", Settings: "{agents: [a@x.com], ring: 1500ms}",
			CheckAnswered: true,
			Want:          []string{"p.yaml:10:41: steps[0].via[0].ccai.ring: must be whole seconds, got 1.5s"}},
		{Name: "ring not positive", Notify: "[maria, sam]", Step: "    strategy: rotation", Settings: "{agents: [a@x.com], ring: 0s}",
			CheckAnswered: true,
			Want:          []string{"p.yaml:10:41: steps[0].via[0].ccai.ring: must be positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			providertest.WantProblems(t, ccai.Kind{CheckAnswered: tt.CheckAnswered}, stepPolicy(tt.Notify, tt.Step, tt.Settings), tt.Want)
		})
	}
}

// TestKindFollowsTheDeployment: the worker checks policies with the Kind
// its environment gives; CCAI_CHECK_ANSWERED=true lets a rotation through.
// Without any environment (policy check's defaults) it is off.
func TestKindFollowsTheDeployment(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want bool
	}{
		{env: nil, want: false},
		{env: map[string]string{"CCAI_CHECK_ANSWERED": "true"}, want: true},
		{env: map[string]string{"CCAI_CHECK_ANSWERED": "false"}, want: false},
	} {
		if got := providertest.Kind(t, ccai.Spec{}, tt.env).(ccai.Kind).CheckAnswered; got != tt.want {
			t.Errorf("env %v: Kind().CheckAnswered = %v; want %v", tt.env, got, tt.want)
		}
	}
}
