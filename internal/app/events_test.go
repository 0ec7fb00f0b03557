package app

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// sse is one Server-Sent Event.
type sse struct {
	id, event string
	o         outcome.Outcome
}

// stream opens GET url as an event stream and sends its events on the
// channel until the test ends.
func stream(t *testing.T, url, token string, header http.Header) <-chan sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET %s: %s %s", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	out := make(chan sse, 100)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &ev.o)
			case line == "" && ev.event != "":
				out <- ev
				ev = sse{}
			}
		}
	}()
	return out
}

func nextSSE(t *testing.T, events <-chan sse, event string) sse {
	t.Helper()
	for {
		select {
		case ev := <-events:
			if ev.event == event {
				return ev
			}
		case <-time.After(waitFor):
			t.Fatalf("no %s event", event)
		}
	}
}

// TestEventsStream: the outcomes as Server-Sent Events, live; a client that
// reconnects with Last-Event-ID gets what came after; one escalation's
// alone when asked.
func TestEventsStream(t *testing.T) {
	const token = "events-token"
	cfg := testConfig(t, t.TempDir())
	cfg.HTTPToken = token
	a := startEngineApp(t, cfg)
	base := "http://" + a.HTTPAddr()
	live := stream(t, base+"/v1/events", token, nil)
	nc, _ := subscribeOutcomes(t, a)
	if err := nc.Publish("alerts.test", []byte(`{"id":"db-down","status":"firing","labels":{"team":"db"}}`)); err != nil {
		t.Fatal(err)
	}
	started := nextSSE(t, live, outcome.Started)
	dispatched := nextSSE(t, live, outcome.Dispatched)
	if started.o.AlertID != "db-down" || dispatched.o.EscalationID != started.o.EscalationID || started.id == "" {
		t.Fatalf("events %+v, %+v", started, dispatched)
	}
	// Reconnecting after "started": "dispatched" comes again, from the stream.
	again := stream(t, base+"/v1/events", token, http.Header{"Last-Event-ID": {started.id}})
	if got := nextSSE(t, again, outcome.Dispatched); got.id != dispatched.id {
		t.Fatalf("after reconnecting: %+v, want event %s", got, dispatched.id)
	}
	// One escalation's, named by its alert.
	one := stream(t, base+"/v1/events?escalation=db-down&after=0", token, nil)
	if err := nc.Publish("alerts.test", []byte(`{"id":"web-down","status":"firing","labels":{"team":"web"}}`)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("alerts.test", []byte(`{"id":"db-down","status":"resolved"}`)); err != nil {
		t.Fatal(err)
	}
	for done := false; !done; {
		select {
		case ev := <-one:
			if ev.o.EscalationID != started.o.EscalationID {
				t.Fatalf("another escalation's event on a filtered stream: %+v", ev)
			}
			done = ev.event == outcome.Resolved
		case <-time.After(waitFor):
			t.Fatal("the filtered stream never said resolved")
		}
	}
	req, _ := http.NewRequest("GET", base+"/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without the token: %s", resp.Status)
	}
}

// TestEventsSurviveANATSRestart: the NATS server a worker uses restarts;
// an open event stream goes on with what comes after, without a repeat.
func TestEventsSurviveANATSRestart(t *testing.T) {
	const token = "events-token"
	dir, port := t.TempDir(), natstest.FreePort(t)
	srv := natstest.RunServerAt(t, dir, port)
	cfg := testConfig(t, t.TempDir())
	cfg.HTTPToken, cfg.NATSURL = token, srv.ClientURL()
	a := startEngineApp(t, cfg)
	live := stream(t, "http://"+a.HTTPAddr()+"/v1/events", token, nil)
	publish := func(data string) {
		t.Helper()
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		if _, err := js.Publish(context.Background(), "alerts.test", []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	publish(`{"id":"db-down","status":"firing","labels":{"team":"db"}}`)
	first := nextSSE(t, live, outcome.Dispatched)

	srv.Shutdown()
	srv.WaitForShutdown()
	srv = natstest.RunServerAt(t, dir, port)
	publish(`{"id":"db-down","status":"resolved"}`)
	got := nextSSE(t, live, outcome.Resolved)
	if got.o.EscalationID != first.o.EscalationID {
		t.Fatalf("after the restart: %+v", got)
	}
	if a, b := mustSeq(t, first.id), mustSeq(t, got.id); b <= a {
		t.Fatalf("event ids %d then %d: a repeat", a, b)
	}
}

func mustSeq(t *testing.T, id string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		t.Fatalf("event id %q: %v", id, err)
	}
	return n
}

// TestEventsStreamSaysWhereItStarts: a stream opened without an id names
// the last outcome before it (its greeting's id), so that a client cut off
// before its first event resumes from there and misses what came between.
func TestEventsStreamSaysWhereItStarts(t *testing.T) {
	const token = "events-token"
	cfg := testConfig(t, t.TempDir())
	cfg.HTTPToken = token
	a := startEngineApp(t, cfg)
	base := "http://" + a.HTTPAddr()
	live := stream(t, base+"/v1/events", token, nil)
	nc, _ := subscribeOutcomes(t, a)
	if err := nc.Publish("alerts.test", []byte(`{"id":"db-down","status":"firing","labels":{"team":"db"}}`)); err != nil {
		t.Fatal(err)
	}
	dispatched := nextSSE(t, live, outcome.Dispatched)

	// A client opens the stream, reads its greeting and is cut off.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	greeting := ""
	for sc := bufio.NewScanner(resp.Body); sc.Scan() && sc.Text() != ""; {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			greeting = id
		}
	}
	cancel()
	resp.Body.Close()
	if greeting != dispatched.id {
		t.Fatalf("greeting id %q, want the last outcome's, %s", greeting, dispatched.id)
	}
	// Meanwhile another alert fires; the client comes back with that id.
	if err := nc.Publish("alerts.test", []byte(`{"id":"db-slow","status":"firing","labels":{"team":"db"}}`)); err != nil {
		t.Fatal(err)
	}
	back := stream(t, base+"/v1/events", token, http.Header{"Last-Event-ID": {greeting}})
	if got := nextSSE(t, back, outcome.Started); got.o.AlertID != "db-slow" {
		t.Fatalf("after coming back: %+v, want db-slow's start", got)
	}
}
