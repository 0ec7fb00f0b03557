package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/silence"
)

// silenced gives the rig's workers the silences of its bucket, and
// returns them.
func (r *rig) silenced(t *testing.T) *silence.Store {
	t.Helper()
	s, err := silence.Open(context.Background(), r.js, 0, r.clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-s.Ready():
	case <-time.After(waitFor):
		t.Fatal("silences not ready")
	}
	r.silences = s
	return s
}

func (r *rig) silence(s *silence.Store, req silence.Request) silence.Silence {
	r.t.Helper()
	if req.By == "" {
		req.By = "ops"
	}
	sl, err := s.Create(context.Background(), req)
	if err != nil {
		r.t.Fatal(err)
	}
	return sl
}

// noOutcome checks that nothing is published for d (longer than the
// waits and silences of the test: a timer that must not fire).
func (r *rig) noOutcome(d time.Duration) {
	r.t.Helper()
	select {
	case o := <-r.events:
		r.t.Fatalf("unexpected outcome %+v", o)
	case <-time.After(d):
	}
}

var pgDown = `{"id":"pg-down","status":"firing","summary":"pg down","labels":{"team":"db","cluster":"pg1"}}`

// TestSilencedAlertEscalatesWhenTheSilenceEnds: a firing alert an active
// silence covers calls nobody, says silenced (with the silence), and
// escalates from step 1 at the silence's end since it still fires.
func TestSilencedAlertEscalatesWhenTheSilenceEnds(t *testing.T) {
	r := newRig(t)
	s := r.silenced(t)
	r.startWorker(t, nil)
	sl := r.silence(s, silence.Request{Matchers: map[string]string{"team": "db"}, Duration: "2s", Comment: "migration"})
	r.publish("alerts.prometheus", pgDown)
	got := r.expect("silenced 0")[0]
	if got.Silence != sl.ID || !got.Until.Equal(sl.EndsAt) || !strings.Contains(got.Reason, sl.ID) || got.AlertID != "pg-down" {
		t.Fatalf("silenced %+v, want silence %s until %s", got, sl.ID, sl.EndsAt)
	}
	if n := len(r.iot.Calls()); n != 0 {
		t.Fatalf("%d calls during the silence", n)
	}
	// Another alert of the group joins it quietly.
	r.publish("alerts.prometheus", `{"id":"pg-slow","status":"firing","labels":{"team":"db","cluster":"pg1"}}`)
	r.expect("grouped 0")
	started := r.expect("started 0", "dispatched 0")
	if started[0].EscalationID != got.EscalationID || started[0].Alerts != 2 {
		t.Fatalf("after the silence %+v, want escalation %s with both alerts", started[0], got.EscalationID)
	}
	if !started[1].At.After(sl.EndsAt) && !started[1].At.Equal(sl.EndsAt) {
		t.Fatalf("called at %s, before the silence's end %s", started[1].At, sl.EndsAt)
	}
	if n := len(r.iot.Calls()); n != 1 {
		t.Fatalf("%d calls after the silence, want 1", n)
	}
}

// TestResolvedDuringSilenceEndsIt: an alert that resolves while silenced
// ends its escalation as usual; nobody is called at the silence's end.
func TestResolvedDuringSilenceEndsIt(t *testing.T) {
	r := newRig(t)
	s := r.silenced(t)
	r.startWorker(t, nil)
	r.silence(s, silence.Request{Matchers: map[string]string{"team": "db"}, Duration: "1s"})
	r.publish("alerts.prometheus", pgDown)
	r.expect("silenced 0")
	r.publish("alerts.prometheus", `{"id":"pg-down","status":"resolved","labels":{"team":"db","cluster":"pg1"}}`)
	r.expect("resolved 0")
	r.noOutcome(2500 * time.Millisecond) // past the silence's end
	if n := len(r.iot.Calls()); n != 0 {
		t.Fatalf("%d calls, want none", n)
	}
}

// TestSilenceMidEscalationStopsFurtherSteps: a silence made while an
// escalation runs stops its further steps; ended early (DELETE), the
// escalation starts again from step 1, its outcomes new ones.
func TestSilenceMidEscalationStopsFurtherSteps(t *testing.T) {
	r := newRigWith(t, strings.ReplaceAll(testPolicy, "wait: 1s", "wait: 2s"))
	s := r.silenced(t)
	w := r.startWorker(t, nil)
	r.publish("alerts.prometheus", pgDown)
	first := r.expect("started 0", "dispatched 0")
	sl := r.silence(s, silence.Request{Matchers: map[string]string{"cluster": "pg1"}, Duration: "1h"})
	n, err := w.eng.SilenceNow(context.Background(), sl)
	if err != nil || n != 1 {
		t.Fatalf("SilenceNow: %d, %v; want 1 escalation quietened", n, err)
	}
	if got := r.expect("silenced 0")[0]; got.Silence != sl.ID || got.EscalationID != first[0].EscalationID {
		t.Fatalf("silenced %+v", got)
	}
	list, err := w.eng.Active(context.Background())
	if err != nil || len(list) != 1 || list[0].Status != StatusSilenced || list[0].Quiet == nil || list[0].Quiet.Silence != sl.ID {
		t.Fatalf("active %+v %v, want one silenced by %s", list, err, sl.ID)
	}
	r.noOutcome(3 * time.Second) // step 2 was due after 2s
	if n := len(r.iot.Calls()); n != 1 {
		t.Fatalf("%d calls, want only step 1's", n)
	}
	if _, err := s.Expire(context.Background(), sl.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := w.eng.Unsilence(context.Background(), sl.ID); err != nil || n != 1 {
		t.Fatalf("Unsilence: %d, %v; want 1", n, err)
	}
	// Round 2's outcomes are published (not taken for round 1's
	// duplicates), and the escalation runs to its end.
	again := r.expect("started 0", "dispatched 0", "dispatched 1", "exhausted 1")
	if again[0].EscalationID != first[0].EscalationID {
		t.Fatalf("restarted %s, want %s", again[0].EscalationID, first[0].EscalationID)
	}
	if n := len(r.iot.Calls()); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
}

// TestMaintenanceWindowQuietsThenEscalates: during one of its policy's
// maintenance windows an alert is silenced; if it still fires at the
// window's end, it escalates then.
func TestMaintenanceWindowQuietsThenEscalates(t *testing.T) {
	now := time.Now().UTC()
	end := now.Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
	window := fmt.Sprintf("maintenance:\n  - {start: %q, end: %q}\npeople:", now.Add(-time.Hour).Format(time.RFC3339), end.Format(time.RFC3339))
	r := newRigWith(t, strings.Replace(testPolicy, "people:", window, 1))
	r.startWorker(t, nil)
	r.publish("alerts.prometheus", pgDown)
	got := r.expect("silenced 0")[0]
	if got.Silence != "" || !got.Until.Equal(end) || !strings.Contains(got.Reason, "maintenance") {
		t.Fatalf("silenced %+v, want by maintenance until %s", got, end)
	}
	if n := len(r.iot.Calls()); n != 0 {
		t.Fatalf("%d calls in maintenance", n)
	}
	if d := r.expect("started 0", "dispatched 0")[1]; d.At.Before(end) {
		t.Fatalf("called at %s, in maintenance until %s", d.At, end)
	}
}

// TestAckTimeoutRepages: an acknowledged escalation whose alert still
// fires ack_timeout after the acknowledgement starts again from step 1,
// unacknowledged first; one resolved meanwhile is not re-paged.
func TestAckTimeoutRepages(t *testing.T) {
	r := newRig(t)
	p, ok := r.set.Get("db")
	if !ok {
		t.Fatal("no policy db")
	}
	// Policy files ask for 1m at least; the engine takes what it is given.
	p.AckTimeout = time.Second
	r.startWorker(t, nil)
	r.publish("alerts.prometheus", pgDown)
	first := r.expect("started 0", "dispatched 0")
	r.publish("alerts.http", `{"id":"pg-down","status":"acknowledged","by":"aiko"}`)
	ack := r.expect("acknowledged 0")[0]
	again := r.expect("unacknowledged 0", "dispatched 0")
	if again[0].EscalationID != first[0].EscalationID || again[0].At.Sub(ack.At) < time.Second {
		t.Fatalf("re-paged %+v, %s after the ack; want the same escalation, at least 1s after", again[0], again[0].At.Sub(ack.At))
	}
	// Acknowledged again, then resolved: no third page.
	r.publish("alerts.http", `{"id":"pg-down","status":"acknowledged","by":"kenji"}`)
	r.expect("acknowledged 0")
	r.publish("alerts.prometheus", `{"id":"pg-down","status":"resolved","labels":{"team":"db","cluster":"pg1"}}`)
	r.expect("resolved 0")
	r.noOutcome(2500 * time.Millisecond)
	if n := len(r.iot.Calls()); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
}
