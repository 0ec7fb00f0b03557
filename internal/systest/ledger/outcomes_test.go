package ledger

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/outcome"
)

// TestReadOutcomes reads outcomes from a real ESCALATIONS stream as they
// are published, waits for the final ones, and reads each once although
// reading starts again from an earlier sequence (as the watch does).
func TestReadOutcomes(t *testing.T) {
	srv := natstest.RunServer(t, "")
	_, js := natstest.Connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := natsx.EnsureEngine(ctx, js, natsx.Topology{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	o := ReadOutcomes(t, js)
	publish := func(os ...outcome.Outcome) {
		for _, oc := range os {
			b, _ := json.Marshal(oc)
			if _, err := js.Publish(ctx, natsx.OutcomeSubject(oc.EscalationID, oc.Event), b); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(oneStep(1)...)
	publish(oneStep(2)[:2]...)
	if p := o.WaitFinal([]string{"a1"}, 10*time.Second); p != nil {
		t.Fatalf("pending %v; %s", p, o.Progress())
	}
	if p := o.Pending([]string{"a1", "a2"}); len(p) != 1 || p[0] != "a2" {
		t.Errorf("pending %v, want [a2]", p)
	}
	if err := o.consume(ctx, 2); err != nil { // again from the second outcome
		t.Fatal(err)
	}
	publish(oneStep(2)[2])
	if p := o.WaitFinal([]string{"a1", "a2"}, 10*time.Second); p != nil {
		t.Fatalf("pending %v; %s", p, o.Progress())
	}
	o.WaitCaughtUp(t, 10*time.Second)
	if got := len(o.All()); got != 6 {
		t.Errorf("read %d outcomes, want 6 (each once): %s", got, o.Progress())
	}
	r := Count(Run{Alerts: []string{"a1", "a2"}, Outcomes: o.All(), Tagged: true,
		Calls: []Call{call(1, 0, 90, Yemot, "c1"), call(2, 0, 95, Yemot, "c2")}})
	if len(r.Problems) != 0 || r.Completed != 2 {
		t.Errorf("%s; problems %v", r.Summary(), r.Problems)
	}
	o.Stop()
	o.Stop()
}
