package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/engine"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/silence"
)

var t0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

// quieter records what the API asked of the engine (whose own tests show
// what it then does to the escalations).
type quieter struct {
	mu        sync.Mutex
	silenced  []string
	unsilence []string
}

func (q *quieter) SilenceNow(_ context.Context, s silence.Silence) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.silenced = append(q.silenced, s.ID)
	return 2, nil
}

func (q *quieter) Unsilence(_ context.Context, id string) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.unsilence = append(q.unsilence, id)
	return 1, nil
}

type noEscalations struct{}

func (noEscalations) List(context.Context, engine.Query) (engine.Page, error) {
	return engine.Page{}, nil
}
func (noEscalations) Lookup(context.Context, string) (string, error) { return "", engine.ErrNotFound }
func (noEscalations) Upcoming(context.Context, string) (*engine.Plan, error) {
	return nil, engine.ErrNotFound
}
func (noEscalations) Find(context.Context, string) (*engine.Detail, error) {
	return nil, engine.ErrNotFound
}

const token = "s3cret-token"

// serve runs the API with a real silence store on JetStream.
func serve(t *testing.T) (*httptest.Server, *quieter, *clock.Fake) {
	t.Helper()
	_, js := natstest.Connect(t, natstest.RunServer(t, ""))
	ctx := context.Background()
	if err := natsx.EnsureEngine(ctx, js, natsx.Topology{}); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(t0)
	store, err := silence.Open(ctx, js, 0, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = store.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-store.Ready()
	q := &quieter{}
	a, err := New(Config{Escalations: noEscalations{}, Silences: store, Quieter: q, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, q, clk
}

func do(t *testing.T, srv *httptest.Server, method, path, body, tok string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if strings.Contains(string(b), token) {
		t.Fatalf("the token is in an answer: %s", b)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: %d %q is not JSON", method, path, res.StatusCode, b)
	}
	return res.StatusCode, out
}

func TestSilencesAPI(t *testing.T) {
	srv, q, clk := serve(t)
	code, got := do(t, srv, "POST", "/v1/silences",
		`{"matchers":{"team":"db"},"matchers_regex":{"service":"db-.*"},"duration":"2h","by":"ann","comment":"migration"}`, token)
	if code != http.StatusCreated || got["status"] != "active" || got["by"] != "ann" || got["escalations"] != 2.0 {
		t.Fatalf("POST: %d %v", code, got)
	}
	id, _ := got["id"].(string)
	if id == "" || got["ends_at"] != "2026-11-29T04:00:00Z" {
		t.Fatalf("POST answered %v", got)
	}
	if len(q.silenced) != 1 || q.silenced[0] != id {
		t.Fatalf("running escalations not told: %v", q.silenced)
	}
	code, got = do(t, srv, "POST", "/v1/silences",
		`{"matchers":{"team":"web"},"starts_at":"2026-11-29T03:00:00Z","ends_at":"2026-11-29T05:00:00Z","by":"bob"}`, token)
	if code != http.StatusCreated || got["status"] != "pending" {
		t.Fatalf("POST pending: %d %v", code, got)
	}
	pending := got["id"].(string)

	code, got = do(t, srv, "GET", "/v1/silences", "", token)
	list, _ := got["silences"].([]any)
	if code != http.StatusOK || len(list) != 2 {
		t.Fatalf("GET: %d %v", code, got)
	}
	if code, got = do(t, srv, "GET", "/v1/silences/"+pending, "", token); code != http.StatusOK || got["status"] != "pending" {
		t.Fatalf("GET one: %d %v", code, got)
	}

	clk.Advance(10 * time.Minute)
	code, got = do(t, srv, "DELETE", "/v1/silences/"+id, "", token)
	if code != http.StatusOK || got["status"] != "expired" || got["ends_at"] != "2026-11-29T02:10:00Z" || got["escalations"] != 1.0 {
		t.Fatalf("DELETE: %d %v", code, got)
	}
	if len(q.unsilence) != 1 || q.unsilence[0] != id {
		t.Fatalf("escalations not woken: %v", q.unsilence)
	}
	if code, got = do(t, srv, "DELETE", "/v1/silences/nosuch", "", token); code != http.StatusNotFound {
		t.Fatalf("DELETE unknown: %d %v", code, got)
	}
	if code, got = do(t, srv, "GET", "/v1/silences/nosuch", "", token); code != http.StatusNotFound {
		t.Fatalf("GET unknown: %d %v", code, got)
	}
}

func TestSilencesAPIRefusesNamingTheField(t *testing.T) {
	srv, q, _ := serve(t)
	cases := []struct {
		name, body, field string
	}{
		{"no matchers", `{"duration":"1h","by":"ann"}`, "matchers"},
		{"bad regex", `{"matchers_regex":{"service":"("},"duration":"1h","by":"ann"}`, "matchers_regex.service"},
		{"no by", `{"matchers":{"team":"db"},"duration":"1h"}`, "by"},
		{"longer than --max-silence", `{"matchers":{"team":"db"},"duration":"200h","by":"ann"}`, "ends_at"},
		{"bad duration", `{"matchers":{"team":"db"},"duration":"soon","by":"ann"}`, "duration"},
		{"unknown field", `{"matchers":{"team":"db"},"duration":"1h","by":"ann","endsAt":"x"}`, "endsAt"},
		{"wrong type", `{"matchers":{"team":1},"duration":"1h","by":"ann"}`, "matchers"},
		{"not JSON", `team=db`, ""},
		{"two values", `{"matchers":{"team":"db"},"duration":"1h","by":"ann"} {}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, got := do(t, srv, "POST", "/v1/silences", c.body, token)
			if code != http.StatusBadRequest || got["error"] == "" || (c.field != "" && got["field"] != c.field) {
				t.Fatalf("%d %v, want 400 naming %q", code, got, c.field)
			}
		})
	}
	if len(q.silenced) != 0 {
		t.Fatalf("refused silences applied: %v", q.silenced)
	}
	_, got := do(t, srv, "GET", "/v1/silences", "", token)
	if list, _ := got["silences"].([]any); len(list) != 0 {
		t.Fatalf("refused silences kept: %v", list)
	}
}

func TestSilencesAPIRequiresTheToken(t *testing.T) {
	srv, q, _ := serve(t)
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/v1/silences", `{"matchers":{"team":"db"},"duration":"1h","by":"ann"}`},
		{"GET", "/v1/silences", ""},
		{"GET", "/v1/silences/x", ""},
		{"DELETE", "/v1/silences/x", ""},
	} {
		for _, tok := range []string{"", "wrong"} {
			if code, _ := do(t, srv, r.method, r.path, r.body, tok); code != http.StatusUnauthorized {
				t.Errorf("%s %s with token %q: %d, want 401", r.method, r.path, tok, code)
			}
		}
	}
	if len(q.silenced) != 0 {
		t.Fatal("a silence was made without the token")
	}
}
