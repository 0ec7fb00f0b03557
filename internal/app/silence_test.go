package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/providers"
)

// call sends an HTTP request with the token and decodes the JSON answer.
func call(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: %d %q", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

// awaitOutcome waits for the next outcome of event, failing on a dispatch
// meanwhile unless event is dispatched.
func awaitOutcome(t *testing.T, events <-chan outcome.Outcome, event string) outcome.Outcome {
	t.Helper()
	for {
		select {
		case o := <-events:
			if o.Event == event {
				return o
			}
			if o.Event == outcome.Dispatched {
				t.Fatalf("dispatched %+v while waiting for %s", o, event)
			}
		case <-time.After(waitFor):
			t.Fatalf("no %s outcome", event)
		}
	}
}

// TestSilenceOverHTTPSurvivesARestart: a silence made over the API covers
// alerts after the worker restarts; the escalations it holds show as
// silenced; expiring it (DELETE) escalates the alert still firing.
func TestSilenceOverHTTPSurvivesARestart(t *testing.T) {
	const token = "silence-test-token"
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.HTTPToken = token
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := runStarted(t, ctx, a)
	base := "http://" + a.HTTPAddr()
	code, sl := call(t, "POST", base+"/v1/silences", token, `{"matchers":{"team":"db"},"duration":"1h","by":"ops","comment":"migration"}`)
	if code != http.StatusCreated || sl["status"] != "active" {
		t.Fatalf("POST /v1/silences: %d %v", code, sl)
	}
	id := sl["id"].(string)
	if code, got := call(t, "POST", base+"/v1/silences", token, `{"matchers":{"team":"db"},"duration":"200h","by":"ops"}`); code != http.StatusBadRequest || got["field"] != "ends_at" {
		t.Fatalf("a silence longer than --max-silence: %d %v", code, got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stop: %v", err)
	}

	// Restarted on the same store: the silence still holds.
	b := startEngineApp(t, cfg)
	base = "http://" + b.HTTPAddr()
	nc, events := subscribeOutcomes(t, b)
	if err := nc.Publish("alerts.test", []byte(`{"id":"db-down","status":"firing","labels":{"team":"db"}}`)); err != nil {
		t.Fatal(err)
	}
	got := awaitOutcome(t, events, outcome.Silenced)
	if got.Silence != id || got.AlertID != "db-down" {
		t.Fatalf("silenced %+v, want by %s", got, id)
	}
	_, list := call(t, "GET", base+"/v1/escalations", token, "")
	escs, _ := list["escalations"].([]any)
	if len(escs) != 1 || escs[0].(map[string]any)["status"] != "silenced" {
		t.Fatalf("escalations %v, want one silenced", list)
	}
	if n := len(providers.SimOf[*iotcall.Sim](b.Sims().Sims).Calls()); n != 0 {
		t.Fatalf("%d calls under the silence", n)
	}

	code, x := call(t, "DELETE", base+"/v1/silences/"+id, token, "")
	if code != http.StatusOK || x["status"] != "expired" || x["escalations"] != 1.0 {
		t.Fatalf("DELETE: %d %v", code, x)
	}
	awaitOutcome(t, events, outcome.Started)
	if d := awaitOutcome(t, events, outcome.Dispatched); d.AlertID != "db-down" {
		t.Fatalf("dispatched %+v", d)
	}
	if _, body := get(t, base+"/metrics"); !strings.Contains(body, `escalator_alerts_silenced_total{by="silence"} 1`) {
		t.Error("the silenced alert is not counted")
	}
}
