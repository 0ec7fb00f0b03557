package app

import (
	"net/http"
	"testing"

	"github.com/escalator-oss/escalator/internal/outcome"
)

// TestActOverHTTP: acknowledge, escalate and resolve an escalation through
// the API of the real worker, with the error answers a CLI relies on.
func TestActOverHTTP(t *testing.T) {
	const token = "act-test-token"
	cfg := testConfig(t, t.TempDir())
	cfg.HTTPToken = token
	a := startEngineApp(t, cfg)
	base := "http://" + a.HTTPAddr()
	nc, events := subscribeOutcomes(t, a)
	if err := nc.Publish("alerts.test", []byte(`{"id":"db-down","status":"firing","labels":{"team":"db"}}`)); err != nil {
		t.Fatal(err)
	}
	id := awaitOutcome(t, events, outcome.Dispatched).EscalationID
	esc := base + "/v1/escalations/" + id

	if code, _ := call(t, "POST", esc+"/ack", "wrong", `{"by":"aiko"}`); code != http.StatusUnauthorized {
		t.Fatalf("ack without the token: %d", code)
	}
	code, got := call(t, "POST", esc+"/ack", token, `{"by":"aiko","comment":"looking"}`)
	if code != http.StatusOK || got["status"] != "acknowledged" {
		t.Fatalf("ack: %d %v", code, got)
	}
	if o := awaitOutcome(t, events, outcome.Acknowledged); o.By != "aiko" || o.Via != "api" || o.Comment != "looking" {
		t.Fatalf("acknowledged %+v", o)
	}
	if code, got := call(t, "POST", esc+"/ack", token, `{"by":"kenji"}`); code != http.StatusConflict || got["status"] != "acknowledged" {
		t.Fatalf("second ack: %d %v, want 409 acknowledged", code, got)
	}
	if code, got := call(t, "POST", esc+"/ack", token, `{"who":"kenji"}`); code != http.StatusBadRequest || got["field"] != "who" {
		t.Fatalf("unknown field: %d %v", code, got)
	}
	if code, _ := call(t, "POST", base+"/v1/escalations/0123456789abcdef01234567-9/ack", token, ""); code != http.StatusNotFound {
		t.Fatalf("unknown escalation: %d", code)
	}

	// The policy has one step and no repeat: escalating past it exhausts.
	if code, got := call(t, "POST", esc+"/escalate", token, `{"by":"aiko"}`); code != http.StatusOK || got["status"] != "exhausted" {
		t.Fatalf("escalate: %d %v", code, got)
	}
	awaitOutcome(t, events, outcome.Escalated)
	if code, got := call(t, "POST", esc+"/resolve", token, ""); code != http.StatusConflict || got["status"] != "exhausted" {
		t.Fatalf("resolve an exhausted escalation: %d %v, want 409 exhausted", code, got)
	}
}
