package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

func TestAckCode(t *testing.T) {
	tests := []struct {
		text, code string
		ok         bool
	}{
		{"ack", "", true}, {"  ACK \n", "", true}, {"1", "", true}, {"אישור", "", true},
		{"ack 4821", "4821", true}, {"Ack   0007", "0007", true},
		{"ack 482", "", false}, {"ack 4821 please", "", false}, {"ok", "", false}, {"", "", false},
		{"acknowledged", "", false}, {"12", "", false},
	}
	for _, tt := range tests {
		code, ok := ackCode(tt.text, nil)
		if code != tt.code || ok != tt.ok {
			t.Errorf("ackCode(%q) = %q, %v; want %q, %v", tt.text, code, ok, tt.code, tt.ok)
		}
	}
	if _, ok := ackCode("roger", []string{"Roger", "copy"}); !ok {
		t.Error("configured words are not case-sensitive")
	}
}

// TestReplyAcknowledges: an ack word texted back by a person an active
// escalation called acknowledges it (by the person, via sms), once however
// many workers read the reply; a stranger's text, another text, and an ack
// sent before the call do nothing; with two escalations calling the same
// person, "ack" takes both and "ack <code>" the one of that code.
func TestReplyAcknowledges(t *testing.T) {
	r := newRigWith(t, strings.ReplaceAll(testPolicy, "wait: 1s", "wait: 1m"))
	w := r.startWorker(t, nil)
	other := r.startWorker(t, nil) // a second worker reading the same replies
	ctx := context.Background()
	aiko := "+818012345678"
	fire := func(id, cluster string) outcome.Outcome {
		t.Helper()
		r.publish("alerts.prometheus", `{"id":"`+id+`","status":"firing","labels":{"team":"db","cluster":"`+cluster+`"}}`)
		return r.expect("started 0", "dispatched 0")[0]
	}
	first := fire("pg-down", "pg1")
	now := time.Now()
	reply := func(id, from, text string, at time.Time) dispatch.Reply {
		return dispatch.Reply{ID: id, Provider: "yemot", From: from, Text: text, At: at}
	}
	for _, rp := range []dispatch.Reply{
		reply("r1", "+972500000000", "ack", now),      // a stranger
		reply("r2", aiko, "on my way", now),           // not an ack word
		reply("r3", aiko, "ack", now.Add(-time.Hour)), // before she was called
	} {
		if err := w.eng.HandleReply(ctx, rp); err != nil {
			t.Fatal(err)
		}
	}
	second := fire("pg-slow", "pg2")
	// "ack <code>" takes the one of that code, whichever worker reads it,
	// once.
	named := reply("r4", aiko, "ACK "+ShortCode(second.EscalationID), time.Now().Add(time.Second))
	for _, eng := range []*Engine{w.eng, other.eng, w.eng} {
		if err := eng.HandleReply(ctx, named); err != nil {
			t.Fatal(err)
		}
	}
	got := r.expect("acknowledged 0")[0]
	if got.EscalationID != second.EscalationID || got.By != "aiko" || got.Via != "sms" || got.ShortCode != ShortCode(second.EscalationID) {
		t.Fatalf("acknowledged %+v: want %s by aiko via sms", got, second.EscalationID)
	}
	// A plain "ack" takes what is left.
	if err := other.eng.HandleReply(ctx, reply("r5", aiko, " אישור ", time.Now().Add(time.Second))); err != nil {
		t.Fatal(err)
	}
	if got := r.expect("acknowledged 0")[0]; got.EscalationID != first.EscalationID || got.Via != "sms" {
		t.Fatalf("acknowledged %+v: want %s via sms", got, first.EscalationID)
	}
	// Nothing else came in between: the next outcome is the resolution
	// (outcomes are read in stream order).
	r.publish("alerts.prometheus", `{"id":"pg-down","status":"resolved"}`)
	if got := r.expect("resolved 0")[0]; got.EscalationID != first.EscalationID {
		t.Fatalf("resolved %+v", got)
	}
}

// TestCalledAtAnyOfThePersonsNumbers: a person called on one number may
// reply from another of theirs; a stranger's number is not theirs.
func TestCalledAtAnyOfThePersonsNumbers(t *testing.T) {
	called := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	esc := &Escalation{
		Policy: &policy.Policy{People: map[string]provider.Person{
			"aiko": {Name: "aiko", Phone: "+818012345678", Alternates: []string{"+81312345678"},
				ByProvider: map[string][]string{"yemot": {"+972501234567"}}},
		}},
		Calls: []Call{{At: called, Results: []dispatch.Result{{Provider: "iotcall",
			Reached: []provider.Person{{Name: "aiko", Phone: "+818012345678"}}}}}},
	}
	for phone, want := range map[string]bool{
		"+818012345678": true, "+81312345678": true, "+972501234567": true, "+972500000000": false,
	} {
		if name, ok := calledAt(esc, phone, called.Add(time.Minute)); ok != want || (ok && name != "aiko") {
			t.Errorf("calledAt(%s) = %q, %v; want %v", phone, name, ok, want)
		}
	}
	if _, ok := calledAt(esc, "+81312345678", called.Add(-time.Minute)); ok {
		t.Error("a reply before the call counted")
	}
}
