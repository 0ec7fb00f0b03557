package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/silence"
)

// slowPolicy waits long after each step: only a person moves it on.
var slowPolicy = strings.ReplaceAll(testPolicy, "wait: 1s", "wait: 10m")

func TestActAckThroughTheAPI(t *testing.T) {
	r := newRigWith(t, slowPolicy)
	w := r.startWorker(t, nil)
	r.publish("alerts.prometheus", pgDown)
	id := r.expect("started 0", "dispatched 0")[0].EscalationID
	ctx := context.Background()
	sum, err := w.eng.Act(ctx, id, Action{Kind: ActAck, By: "aiko", Comment: "on it"})
	if err != nil || sum.Status != policy.Acknowledged {
		t.Fatalf("ack: %+v %v", sum, err)
	}
	got := r.expect("acknowledged 0")[0]
	if got.By != "aiko" || got.Via != "api" || got.Comment != "on it" {
		t.Fatalf("acknowledged %+v, want by aiko via api with the comment", got)
	}
	var conflict *ConflictError
	if _, err := w.eng.Act(ctx, id, Action{Kind: ActAck, By: "kenji"}); !errors.As(err, &conflict) || conflict.Status != policy.Acknowledged ||
		!strings.Contains(conflict.Why, "already acknowledged, by aiko") {
		t.Fatalf("second ack: %v, want a conflict naming aiko", err)
	}
	if _, err := w.eng.Act(ctx, "0123456789abcdef01234567-9", Action{Kind: ActAck}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := w.eng.Act(ctx, "nonsense", Action{Kind: ActAck}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("malformed id: %v", err)
	}
}

func TestActEscalateRunsTheNextStepNow(t *testing.T) {
	r := newRigWith(t, slowPolicy)
	w := r.startWorker(t, nil)
	r.publish("alerts.prometheus", pgDown)
	id := r.expect("started 0", "dispatched 0")[0].EscalationID
	ctx := context.Background()
	if _, err := w.eng.Act(ctx, id, Action{Kind: ActEscalate, By: "aiko", Comment: "need the DBA"}); err != nil {
		t.Fatal(err)
	}
	got := r.expect("escalated 0", "dispatched 1")
	if got[0].By != "aiko" || got[0].Via != "api" || got[0].Comment != "need the DBA" {
		t.Fatalf("escalated %+v", got[0])
	}
	if n := len(r.iot.Calls()); n != 2 {
		t.Fatalf("%d calls, want 2 (step 2 placed at once)", n)
	}
	// Acknowledged, then escalated: whoever had it hands it on — past the
	// last step (repeat 0), the escalation is exhausted.
	if _, err := w.eng.Act(ctx, id, Action{Kind: ActAck, By: "kenji"}); err != nil {
		t.Fatal(err)
	}
	r.expect("acknowledged 1")
	if _, err := w.eng.Act(ctx, id, Action{Kind: ActEscalate, By: "kenji"}); err != nil {
		t.Fatal(err)
	}
	r.expect("escalated 1", "exhausted 1")
	var conflict *ConflictError
	if _, err := w.eng.Act(ctx, id, Action{Kind: ActEscalate}); !errors.As(err, &conflict) || conflict.Status != policy.Exhausted {
		t.Fatalf("escalating an exhausted escalation: %v, want a conflict", err)
	}
}

func TestActResolveEndsEveryAlert(t *testing.T) {
	r := newRigWith(t, slowPolicy)
	w := r.startWorker(t, nil)
	r.publish("alerts.prometheus", pgDown)
	id := r.expect("started 0", "dispatched 0")[0].EscalationID
	r.publish("alerts.prometheus", `{"id":"pg-slow","status":"firing","labels":{"team":"db","cluster":"pg1"}}`)
	r.expect("grouped 0")
	ctx := context.Background()
	sum, err := w.eng.Act(ctx, id, Action{Kind: ActResolve, By: "aiko", Comment: "failed over by hand"})
	if err != nil || sum.Status != policy.Resolved || sum.Alerts != 0 {
		t.Fatalf("resolve: %+v %v", sum, err)
	}
	if got := r.expect("resolved 0")[0]; got.By != "aiko" || got.Via != "api" || got.Comment != "failed over by hand" {
		t.Fatalf("resolved %+v", got)
	}
	var conflict *ConflictError
	if _, err := w.eng.Act(ctx, id, Action{Kind: ActAck}); !errors.As(err, &conflict) || conflict.Status != policy.Resolved {
		t.Fatalf("acting on a resolved escalation: %v, want a conflict", err)
	}
	// The senders still say firing: the next event starts a new escalation.
	r.publish("alerts.prometheus", `{"id":"pg-slow","status":"firing","at":"2026-11-29T03:00:00Z","labels":{"team":"db","cluster":"pg1"}}`)
	if got := r.expect("started 0")[0]; got.EscalationID == id {
		t.Fatalf("the resolved escalation %s took the alert again", id)
	}
}

func TestActEscalateASilencedAlert(t *testing.T) {
	r := newRigWith(t, slowPolicy)
	s := r.silenced(t)
	w := r.startWorker(t, nil)
	r.silence(s, silence.Request{Matchers: map[string]string{"team": "db"}, Duration: "1h"})
	r.publish("alerts.prometheus", pgDown)
	id := r.expect("silenced 0")[0].EscalationID
	if _, err := w.eng.Act(context.Background(), id, Action{Kind: ActEscalate, By: "ops"}); err != nil {
		t.Fatal(err)
	}
	r.expect("escalated 0", "started 0", "dispatched 0")
}
