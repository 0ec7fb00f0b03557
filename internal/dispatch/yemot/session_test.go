package yemot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot/yemotsim"
	"github.com/escalator-oss/escalator/internal/provider"
)

func passwordMode(c *yemot.Config) { c.Token, c.Username, c.Password = "", "0770000000", "s3cret-pw" }

func TestLoginAgainOnce(t *testing.T) {
	tests := []struct {
		name       string
		breakIt    func(f fixture)
		wantErr    bool
		wantLogins int
	}{
		{name: "expired session", breakIt: func(f fixture) { f.sim.ExpireSessions() }, wantLogins: 2},
		{name: "invalid session", breakIt: func(f fixture) { f.sim.InvalidateSessions() }, wantLogins: 2},
		{name: "still refused after logging in again",
			breakIt: func(f fixture) { f.sim.AnswerNext(2, "FORBIDDEN", "session is expired") }, wantErr: true, wantLogins: 2},
		{name: "other errors do not log in again",
			breakIt: func(f fixture) { f.sim.AnswerNext(1, "ERROR", "no units left") }, wantErr: true, wantLogins: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, passwordMode)
			ctx := context.Background()
			if _, err := f.c.Call(ctx, request(provider.Single, people(1), via)); err != nil {
				t.Fatalf("first Call: %v", err)
			}
			tt.breakIt(f)
			_, err := f.c.Call(ctx, request(provider.Single, people(1), via))
			if (err != nil) != tt.wantErr {
				t.Fatalf("second Call: %v; want error %v", err, tt.wantErr)
			}
			if got := f.sim.Logins(); got != tt.wantLogins {
				t.Errorf("Logins = %d; want %d", got, tt.wantLogins)
			}
		})
	}
}

func TestConcurrentCallsShareOneLogin(t *testing.T) {
	f := newFixture(t, passwordMode)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 8 {
		wg.Go(func() {
			if _, err := f.c.Call(context.Background(), request(provider.Single, people(1), via)); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 || f.sim.Logins() != 1 {
		t.Errorf("%d calls failed, %d logins; want 0 and 1", failed.Load(), f.sim.Logins())
	}
}

func TestAnswered(t *testing.T) {
	f := newFixture(t, func(c *yemot.Config) { c.CheckAnswered = true })
	if _, ok := f.c.Provider().(dispatch.AnswerChecker); !ok {
		t.Fatal("Provider() with CheckAnswered is not an AnswerChecker")
	}
	ctx := context.Background()
	res, err := f.c.Call(ctx, request(provider.Broadcast, people(2), via))
	if err != nil {
		t.Fatal(err)
	}
	ac := f.c.Provider().(dispatch.AnswerChecker)
	if answered, _, done, err := ac.Answered(ctx, res); err != nil || answered || done {
		t.Fatalf("Answered before anything = %v, %v, %v; want false, false, nil", answered, done, err)
	}
	f.sim.SetEntryStatus(national(1), "bridged")
	answered, by, done, err := ac.Answered(ctx, res)
	if err != nil || !answered || by != "p1" || !done {
		t.Errorf("Answered = %v, %q, %v, %v; want true, p1, true", answered, by, done, err)
	}

	g := newFixture(t, nil)
	if _, ok := g.c.Provider().(dispatch.AnswerChecker); ok {
		t.Error("Provider() without CheckAnswered is an AnswerChecker")
	}
}

// TestSecretsNeverLeak drives every error path with secrets the simulator
// echoes back, and checks errors, results and logs.
func TestSecretsNeverLeak(t *testing.T) {
	f := newFixture(t, passwordMode)
	ctx := context.Background()
	var session string
	var texts []string
	check := func(res dispatch.Result, err error) {
		b, _ := json.Marshal(res)
		texts = append(texts, string(b), fmt.Sprint(err))
	}
	check(f.c.Call(ctx, request(provider.Single, people(1), via)))
	for _, r := range f.sim.Requests() {
		var body struct{ Token string }
		if json.Unmarshal(r.Body, &body) == nil && strings.HasPrefix(body.Token, "sim-session") {
			session = body.Token
		}
	}
	if session == "" {
		t.Fatal("no session token seen")
	}
	f.sim.AnswerNext(1, "ERROR", "bad password s3cret-pw for session "+session)
	check(f.c.Call(ctx, request(provider.Single, people(1), via)))
	f.sim.Reject(national(0), "number rejected for "+session)
	check(f.c.Call(ctx, request(provider.Broadcast, people(2), via)))
	f.sim.StallNext(1)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	check(f.c.Call(short, request(provider.Single, people(1), via)))
	cancel()
	f.sim.ExpireSessions()
	check(f.c.Call(ctx, request(provider.Single, people(1), via)))
	// Bodies that are not Yemot's answer, echoing secrets.
	f.sim.RespondNext(yemotsim.Response{Code: 200, Body: "<html>password s3cret-pw, session " + session + "</html>"})
	check(f.c.Call(ctx, request(provider.Single, people(1), via)))
	f.sim.RespondNext(yemotsim.Response{Code: 200, Body: `{"responseStatus":"OK","rows":["s3cret-pw ` + session + `"]}`})
	msgs, err := f.c.IncomingSMS(ctx, yemot.SMSQuery{Limit: 1})
	texts = append(texts, fmt.Sprint(msgs, err))
	f.sim.RespondNext(yemotsim.Response{Code: 200, Body: `{"message":"s3cret-pw ` + session + `"}`})
	_, err = f.c.IncomingSMS(ctx, yemot.SMSQuery{Limit: 1})
	texts = append(texts, fmt.Sprint(err))
	for _, e := range f.logs.All() {
		texts = append(texts, e.Message, fmt.Sprint(e.ContextMap()))
	}
	for _, s := range texts {
		for _, secret := range []string{"s3cret-pw", session} {
			if strings.Contains(s, secret) {
				t.Errorf("secret leaked: %s", s)
			}
		}
	}
	if !strings.Contains(strings.Join(texts, "\n"), "[REDACTED]") {
		t.Error("nothing was redacted: the test did not exercise echoed secrets")
	}
}
