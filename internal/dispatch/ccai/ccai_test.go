package ccai_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/ccai"
	"github.com/escalator-oss/escalator/internal/dispatch/ccai/ccaisim"
	"github.com/escalator-oss/escalator/internal/provider"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	key    = "ck-1234"
	secret = "cs-very-secret"
)

type fixture struct {
	sim  *ccaisim.Server
	c    *ccai.Client
	logs *observer.ObservedLogs
}

func newFixture(t *testing.T, edit func(*ccai.Config)) fixture {
	t.Helper()
	return newFixtureWith(t, nil, edit)
}

// newFixtureWith is newFixture with the simulator's configuration edited
// too.
func newFixtureWith(t *testing.T, editSim func(*ccaisim.Config), edit func(*ccai.Config)) fixture {
	t.Helper()
	simCfg := ccaisim.Config{Key: key, Secret: secret, RatePerSecond: 1000}
	if editSim != nil {
		editSim(&simCfg)
	}
	sim := ccaisim.New(simCfg)
	t.Cleanup(sim.Close)
	for _, a := range []string{"ann@example.com", "bob@example.com"} {
		sim.SetAgent(a, ccaisim.Available)
	}
	sim.SetMenu(9, "ivr_menu", ccaisim.MenuOpen)
	core, logs := observer.New(zapcore.DebugLevel)
	cfg := ccai.Config{BaseURL: sim.URL(), CompanyKey: key, CompanySecret: secret, RatePerSecond: 1000, Logger: zap.New(core)}
	if edit != nil {
		edit(&cfg)
	}
	c, err := ccai.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return fixture{sim: sim, c: c, logs: logs}
}

var (
	carol = provider.Person{Name: "carol", Phone: "+12052345678"}
	dave  = provider.Person{Name: "dave", Phone: "+18596579625"}
)

func request(strategy provider.Strategy, via ccai.Settings, ps ...provider.Person) dispatch.Request {
	return dispatch.Request{EscalationID: "esc-1", Strategy: strategy, People: ps,
		Via: provider.Via{Provider: ccai.Name, Settings: via}}
}

var twoAgents = ccai.Settings{Agents: []string{"ann@example.com", "bob@example.com"}, MenuID: 9}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("request body differs from %s:\n got: %s\nwant: %s", path, got, want)
	}
}

func TestAgentsThenMenu(t *testing.T) {
	tests := []struct {
		name       string
		ann, bob   ccaisim.AgentState
		via        ccai.Settings
		wantType   string
		wantAgent  string
		wantErr    bool
		wantPend   bool
		goldenBody []string
	}{
		{name: "first agent", via: twoAgents, wantType: "Voice Outbound (API)", wantAgent: "ann@example.com",
			goldenBody: []string{"outbound.json"}},
		{name: "next agent", ann: ccaisim.Unavailable, via: twoAgents, wantType: "Voice Outbound (API)", wantAgent: "bob@example.com"},
		{name: "menu fallback", ann: ccaisim.Unavailable, bob: ccaisim.Unavailable, via: twoAgents, wantType: "Voice Inbound (API)",
			goldenBody: []string{"outbound.json", "outbound_bob.json", "inbound.json"}},
		{name: "no agent, no menu", ann: ccaisim.Unavailable, bob: ccaisim.Unavailable,
			via: ccai.Settings{Agents: twoAgents.Agents}, wantErr: true},
		{name: "widget 202 is pending", ann: ccaisim.Widget, via: twoAgents, wantPend: true},
		{name: "minimal body", via: ccai.Settings{Agents: []string{"ann@example.com"}, OutboundNumber: "+13392195276", Lang: "fr"},
			wantType: "Voice Outbound (API)", wantAgent: "ann@example.com", goldenBody: []string{"outbound_full.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.sim.SetAgent("ann@example.com", tt.ann)
			f.sim.SetAgent("bob@example.com", tt.bob)
			res, err := f.c.Call(context.Background(), request(provider.Single, tt.via, carol))
			if tt.wantErr {
				if err == nil || len(res.Failed) != 1 {
					t.Fatalf("Call = %+v, %v; want an error and carol failed", res, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			if res.Pending != tt.wantPend || len(res.Reached) != 1 {
				t.Fatalf("result %+v; want carol reached, pending %v", res, tt.wantPend)
			}
			calls := f.sim.Calls()
			if tt.wantPend {
				if len(calls) != 0 || len(res.References) != 0 {
					t.Errorf("a 202 created calls %v, references %v", calls, res.References)
				}
				return
			}
			if len(calls) != 1 || calls[0].CallType != tt.wantType || calls[0].AgentEmail != tt.wantAgent {
				t.Fatalf("calls %+v; want one %s by %q", calls, tt.wantType, tt.wantAgent)
			}
			if len(res.References) != 1 || res.References[0] != fmt.Sprint(calls[0].ID) {
				t.Errorf("References %v; want [%d]", res.References, calls[0].ID)
			}
			for i, name := range tt.goldenBody {
				r := f.sim.Requests()[i]
				if r.Method != "POST" || r.Path != "/apps/api/v1/calls" || r.ContentType != "application/json" {
					t.Errorf("request %d: %s %s %s", i, r.Method, r.Path, r.ContentType)
				}
				golden(t, name, r.Body)
			}
		})
	}
}

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(*ccai.Config)
		setup     func(f fixture)
		via       *ccai.Settings
		ctx       time.Duration
		retryable bool
		contains  string
	}{
		{name: "wrong secret", edit: func(c *ccai.Config) { c.CompanySecret = "nope" }, contains: "CCAI_COMPANY_KEY"},
		{name: "wrong subdomain", edit: func(c *ccai.Config) { c.BaseURL += "/other" }, contains: "check CCAI_BASE_URL's subdomain"},
		{name: "the one agent has no access, no menu", setup: func(f fixture) { f.sim.SetAgent("ann@example.com", ccaisim.NoAccess) },
			via: &ccai.Settings{Agents: []string{"ann@example.com"}}, contains: "Agent does not have access to make calls"},
		{name: "an invalid agent, no menu", via: &ccai.Settings{Agents: []string{"nobody@example.com"}},
			contains: "nobody@example.com: Not a valid agent email"},
		{name: "menu after hours", setup: func(f fixture) {
			f.sim.SetAgent("ann@example.com", ccaisim.Unavailable)
			f.sim.SetAgent("bob@example.com", ccaisim.Unavailable)
			f.sim.SetMenu(9, "ivr_menu", ccaisim.MenuAfterHours)
		}, contains: "after hours"},
		{name: "503", setup: func(f fixture) { f.sim.FailNext(1, 503) }, retryable: true, contains: "503"},
		{name: "429", setup: func(f fixture) { f.sim.FailNext(1, 429) }, retryable: true, contains: "429"},
		{name: "timeout", setup: func(f fixture) { f.sim.StallNext(1) }, ctx: 50 * time.Millisecond, retryable: true},
		{name: "connection refused", setup: func(f fixture) { f.sim.Close() }, retryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.edit)
			if tt.setup != nil {
				tt.setup(f)
			}
			ctx := context.Background()
			if tt.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			via := twoAgents
			if tt.via != nil {
				via = *tt.via
			}
			_, err := f.c.Call(ctx, request(provider.Single, via, carol))
			if err == nil {
				t.Fatal("Call: want an error")
			}
			if got, _ := dispatch.IsRetryable(err); got != tt.retryable {
				t.Errorf("IsRetryable(%v) = %v; want %v", err, got, tt.retryable)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
		})
	}
}

func TestSimRateLimit(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	sim := ccaisim.New(ccaisim.Config{Key: key, Secret: secret, Clock: fake})
	t.Cleanup(sim.Close)
	get := func() int {
		req, _ := http.NewRequest("GET", sim.URL()+"/manager/api/v1/calls", nil)
		req.SetBasicAuth(key, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 10 {
		if code := get(); code != 200 {
			t.Fatalf("request %d: %d; want 200", i, code)
		}
	}
	if code := get(); code != 429 {
		t.Errorf("11th request in a second: %d; want 429", code)
	}
	fake.Advance(time.Second)
	if code := get(); code != 200 {
		t.Errorf("a second later: %d; want 200", code)
	}
}

func TestClientRespectsRateLimit(t *testing.T) {
	sim := ccaisim.New(ccaisim.Config{Key: key, Secret: secret}) // 10/s
	t.Cleanup(sim.Close)
	sim.SetAgent("ann@example.com", ccaisim.Available)
	c, err := ccai.New(ccai.Config{BaseURL: sim.URL(), CompanyKey: key, CompanySecret: secret}) // default 10/s
	if err != nil {
		t.Fatal(err)
	}
	ps := make([]provider.Person, 12)
	for i := range ps {
		ps[i] = provider.Person{Name: fmt.Sprint(i), Phone: fmt.Sprintf("+1205234%04d", 5600+i)}
	}
	sim.SetMenu(9, "ivr_menu", ccaisim.MenuOpen)
	// ann takes the first call; the other 11 are queued into the menu: 12
	// requests.
	res, err := c.Call(context.Background(), request(provider.Broadcast, ccai.Settings{Agents: []string{"ann@example.com"}, MenuID: 9}, ps...))
	if err != nil || len(res.Reached) != 12 || len(sim.Requests()) != 12 {
		t.Fatalf("Call = %+v, %v after %d requests; want 12 reached in 12 requests, without a 429", res, err, len(sim.Requests()))
	}
}

func TestAnswered(t *testing.T) {
	f := newFixture(t, func(c *ccai.Config) { c.CheckAnswered = true })
	ac, ok := f.c.Provider().(dispatch.AnswerChecker)
	if !ok {
		t.Fatal("Provider() with CheckAnswered is not an AnswerChecker")
	}
	ctx := context.Background()
	res, err := f.c.Call(ctx, request(provider.Broadcast, twoAgents, carol, dave))
	if err != nil {
		t.Fatal(err)
	}
	calls := f.sim.Calls()
	steps := []struct {
		id             int
		status, reason string
		answered, done bool
		by             string
	}{
		{id: calls[0].ID, status: "assigned"},
		{id: calls[0].ID, status: "failed", reason: "eu_no_answer"},
		{id: calls[1].ID, status: "failed", reason: "eu_busy", done: true},
		{id: calls[1].ID, status: "connected", answered: true, done: true, by: "dave"},
	}
	for i, st := range steps {
		if err := f.sim.SetCallStatus(st.id, st.status, st.reason); err != nil {
			t.Fatal(err)
		}
		answered, by, done, err := ac.Answered(ctx, res)
		if err != nil || answered != st.answered || done != st.done || by != st.by {
			t.Errorf("step %d: Answered = %v, %q, %v, %v; want %v, %q, %v", i, answered, by, done, err, st.answered, st.by, st.done)
		}
	}
	if _, ok := newFixture(t, nil).c.Provider().(dispatch.AnswerChecker); ok {
		t.Error("Provider() without CheckAnswered is an AnswerChecker")
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte(key + ":" + secret))
	var texts []string
	run := func(edit func(*ccai.Config), setup func(fixture)) {
		f := newFixture(t, edit)
		if setup != nil {
			setup(f)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		res, err := f.c.Call(ctx, request(provider.Broadcast, twoAgents, carol, dave))
		b, _ := json.Marshal(res)
		texts = append(texts, string(b), fmt.Sprint(err), fmt.Sprintf("%+v", errors.Unwrap(err)))
		for _, e := range f.logs.All() {
			texts = append(texts, e.Message, fmt.Sprint(e.ContextMap()))
		}
	}
	run(nil, nil)
	run(func(c *ccai.Config) { c.BaseURL += "/x" }, nil)
	run(nil, func(f fixture) { f.sim.FailNext(1, 500) })
	run(nil, func(f fixture) { f.sim.StallNext(1) })
	run(nil, func(f fixture) { f.sim.SetAgent("ann@example.com", ccaisim.Unavailable) })
	run(nil, func(f fixture) { f.sim.AnswerNext(1, 200, "text/html", "<p>"+key+":"+secret+"</p>") })
	run(nil, func(f fixture) { f.sim.RedirectNext(1, "/login?user="+secret) })
	for _, s := range texts {
		for _, v := range []string{secret, basic} {
			if strings.Contains(s, v) {
				t.Errorf("secret leaked: %s", s)
			}
		}
	}
}
