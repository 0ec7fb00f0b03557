package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

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

// TestUpcomingPlansFromNow: what an escalation would still do if nobody
// acted — its next step at the end of the current wait, then the end; an
// acknowledged one without ack_timeout, nothing.
func TestUpcomingPlansFromNow(t *testing.T) {
	r := newRigWith(t, slowPolicy)
	w := r.startWorker(t, nil)
	r.publish("alerts.prometheus", pgDown)
	d := r.expect("started 0", "dispatched 0")[1]
	ctx := context.Background()
	plan, err := w.eng.Upcoming(ctx, "pg-down")
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Steps) != 2 || plan.Steps[0].Event != "step" || plan.Steps[0].Step != 1 || plan.Steps[0].Strategy != "rotation" ||
		len(plan.Steps[0].People) != 2 || plan.Steps[1].Event != "exhausted" {
		t.Fatalf("plan %+v", plan.Steps)
	}
	if at := plan.Steps[0].At; at.Sub(d.At) < 9*time.Minute || at.Sub(d.At) > 11*time.Minute {
		t.Fatalf("step 2 at %s, %s after step 1's call; want its wait (10m)", at, at.Sub(d.At))
	}
	if _, err := w.eng.Act(ctx, d.EscalationID, Action{Kind: ActAck, By: "aiko"}); err != nil {
		t.Fatal(err)
	}
	if plan, err := w.eng.Upcoming(ctx, d.EscalationID); err != nil || len(plan.Steps) != 0 || plan.Status != policy.Acknowledged {
		t.Fatalf("after the ack: %+v %v, want nothing to come", plan, err)
	}
	if _, err := w.eng.Upcoming(ctx, "no-such-alert"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
}
