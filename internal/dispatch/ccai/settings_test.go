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
	tests := []struct {
		name          string
		checkAnswered bool
		notify, step  string
		settings      string
		want          []string // problems, exactly
	}{
		{name: "single", notify: "[maria]", step: "    strategy: single", settings: one},
		{name: "broadcast, an agent each", notify: "[maria, sam]", step: "    strategy: broadcast", settings: two},
		{name: "broadcast, the others into the menu", notify: "[maria, sam, kai]", step: "    strategy: broadcast", settings: menu},
		{name: "broadcast, more people than agents, no menu", notify: "[maria, sam, kai]", step: "    strategy: broadcast", settings: two,
			want: []string{"p.yaml:10:9: steps[0].via[0].ccai: a ccai broadcast gives each person an agent of their own " +
				"(an agent takes one call at a time), but this step calls up to 3 people with 2 agents and no menu_id: " +
				"the extra people would never be called; add agents or a menu_id"}},
		{name: "broadcast, an agent listed twice counts once", notify: "[maria, sam]", step: "    strategy: broadcast",
			settings: "{agents: [desk-1@example.com, desk-1@example.com]}",
			want: []string{"p.yaml:10:9: steps[0].via[0].ccai: a ccai broadcast gives each person an agent of their own " +
				"(an agent takes one call at a time), but this step calls up to 2 people with 1 agent and no menu_id: " +
				"the extra people would never be called; add agents or a menu_id"}},
		{name: "broadcast, stop_on_answer", notify: "[maria, sam]", step: "    strategy: broadcast\n    stop_on_answer: true", settings: two,
			checkAnswered: true,
			want: []string{"p.yaml:11:9: steps[0].via[0].ccai: ccai cannot stop the other calls when one is answered " +
				"(CCAI Platform's API has no way to end a call); use an iotcall rule of type 一斉(誰か受電したら終了), or drop stop_on_answer"}},
		{name: "rotation with answered detection", notify: "[maria, sam]", step: "    strategy: rotation", settings: one,
			checkAnswered: true},
		{name: "rotation with a ring", notify: "[maria, sam]", step: "    strategy: rotation",
			settings: "{agents: [desk-1@example.com], ring: 45s}", checkAnswered: true},
		{name: "rotation without answered detection", notify: "[maria, sam]", step: "    strategy: rotation", settings: one,
			want: []string{"p.yaml:10:9: steps[0].via[0].ccai: a ccai rotation must know when each call has ended and stop when " +
				"someone answers, which needs answered detection: set CCAI_CHECK_ANSWERED=true on the worker (it reads the Manager " +
				"API's call list), or use a ccai broadcast, or an iotcall rule of type 輪番"}},
		{name: "rotation of one without answered detection: a single call", notify: "[maria]", step: "    strategy: rotation", settings: one},
		{name: "rotation, pass_on", notify: "[maria, sam]", step: "    strategy: rotation\n    pass_on: true", settings: one,
			checkAnswered: true,
			want: []string{"p.yaml:11:9: steps[0].via[0].ccai: ccai cannot let the person who answers pass the call on to the next " +
				"(CCAI Platform's API has no such option); use an iotcall rule of type 輪番(「9」で次へ), or drop pass_on"}},
		{name: "pass_on on a broadcast: the policy's own problem only", notify: "[maria, sam]",
			step: "    strategy: broadcast\n    pass_on: true", settings: two,
			want: []string{"p.yaml:9:14: steps[0].pass_on: applies only to strategy rotation, not broadcast"}},
		{name: "ring on a broadcast", notify: "[maria, sam]", step: "    strategy: broadcast", settings: "{agents: [a@x.com, b@x.com], ring: 30s}",
			want: []string{"p.yaml:10:50: steps[0].via[0].ccai.ring: only a rotation uses ring " +
				"(how long one person's turn lasts before the next is called); drop it"}},
		{name: "ring too long", notify: "[maria, sam]", step: "    strategy: rotation", settings: "{agents: [a@x.com], ring: 10m}",
			checkAnswered: true,
			want:          []string{"p.yaml:10:41: steps[0].via[0].ccai.ring: one person's turn lasts at most 5m, got 10m"}},
		{name: "ring in fractions", notify: "[maria, sam]", step: "    strategy: rotation", settings: "{agents: [a@x.com], ring: 1500ms}",
			checkAnswered: true,
			want:          []string{"p.yaml:10:41: steps[0].via[0].ccai.ring: must be whole seconds, got 1.5s"}},
		{name: "ring not positive", notify: "[maria, sam]", step: "    strategy: rotation", settings: "{agents: [a@x.com], ring: 0s}",
			checkAnswered: true,
			want:          []string{"p.yaml:10:41: steps[0].via[0].ccai.ring: must be positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			providertest.WantProblems(t, ccai.Kind{CheckAnswered: tt.checkAnswered}, stepPolicy(tt.notify, tt.step, tt.settings), tt.want)
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
