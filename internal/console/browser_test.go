package console_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"

	"github.com/escalator-oss/escalator/internal/app"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/providers"
)

// calls are the calls the IoTCall simulator took through rule.
func calls(a *app.App, rule string) int {
	n := 0
	for _, c := range providers.SimOf[*iotcall.Sim](a.Sims().Sims).Calls() {
		if c.Rule == rule {
			n++
		}
	}
	return n
}

// outcomes follows the worker's outcome events from now on.
func outcomes(t *testing.T, a *app.App) (*nats.Conn, <-chan outcome.Outcome) {
	t.Helper()
	nc, err := nats.Connect(a.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ch := make(chan outcome.Outcome, 100)
	if _, err := nc.Subscribe("escalations.>", func(m *nats.Msg) {
		var o outcome.Outcome
		if json.Unmarshal(m.Data, &o) == nil {
			ch <- o
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return nc, ch
}

// await returns the next outcome of alert with event.
func await(t *testing.T, ch <-chan outcome.Outcome, alert, event string) outcome.Outcome {
	t.Helper()
	timeout := time.After(pageWait)
	for {
		select {
		case o := <-ch:
			if o.AlertID == alert && o.Event == event {
				return o
			}
		case <-timeout:
			t.Fatalf("no %s outcome for %s", event, alert)
		}
	}
}

func publish(t *testing.T, nc *nats.Conn, event string) {
	t.Helper()
	if err := nc.Publish("alerts.test", []byte(event)); err != nil {
		t.Fatal(err)
	}
}

// escalation reads one escalation's summary over the API.
func escalation(t *testing.T, a *app.App, ref string) (s struct {
	Status string    `json:"status"`
	Step   int       `json:"step"`
	NextAt time.Time `json:"next_at"`
}) {
	t.Helper()
	resp, err := http.Get("http://" + a.HTTPAddr() + "/v1/escalations/" + ref)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Escalation *struct {
			Status string    `json:"status"`
			Step   int       `json:"step"`
			NextAt time.Time `json:"next_at"`
		} `json:"escalation"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || d.Escalation == nil {
		t.Fatalf("GET /v1/escalations/%s: %s %v", ref, resp.Status, err)
	}
	s.Status, s.Step, s.NextAt = d.Escalation.Status, d.Escalation.Step, d.Escalation.NextAt
	return s
}

// jsString quotes s for JavaScript.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// cardOf is the JavaScript for the escalation card of alert in the list
// with id list ("active", "acknowledged", "ended").
func cardOf(list, alert string) string {
	return `[...document.querySelectorAll('#list-` + list + ` article')].find((a) => a.innerText.includes(` + jsString(alert) + `))`
}

// TestConsole drives the console as a responder would, on a phone, against
// the real worker without a token (on loopback it opens directly): an alert
// fires and appears without a reload, with whom it called through which
// provider; its timeline shows the call; the ack button acknowledges it and
// no further call is placed; a silence made from the page keeps the next
// matching alert quiet; the on-call view shows the roster's person at the
// moment the page's ?at= names. Every view is checked for controls without
// an accessible name and photographed at a phone's and a desktop's width.
func TestConsole(t *testing.T) {
	a := worker(t, "")
	tb := browser(t)
	nc, events := outcomes(t, a)
	base := "http://" + a.HTTPAddr()

	tb.viewport(phone)
	tb.open(base + "/")
	tb.visible("view-escalations")
	tb.until("the event stream", `document.getElementById('live').dataset.state === 'on'`)
	_ = eval[int](tb, `window.__sameLoad = 42`)

	// An alert fires: it appears, live.
	publish(t, nc, `{"id":"db-primary-down","status":"firing","summary":"primary database is down","labels":{"team":"db"}}`)
	started := await(t, events, "db-primary-down", outcome.Started)
	tb.until("the alert in the active list", cardOf("active", "db-primary-down"))
	tb.until("who was called, through which provider", cardOf("active", "db-primary-down")+`.innerText.includes('aiko via iotcall')`)
	if eval[int](tb, `window.__sameLoad || 0`) != 42 {
		t.Fatal("the page was reloaded to show the alert")
	}
	tb.until("the countdown to the next step", cardOf("active", "db-primary-down")+`.querySelector('[data-countdown]')`)
	tb.accessibleNames("escalations")
	tb.screenshots("escalations")

	// Its timeline shows the call, with the provider and the person, next
	// to the plan still to come.
	tb.click(`#list-active article[data-id="` + started.EscalationID + `"] a.btn`)
	tb.visible("view-escalation")
	tb.until("the call on the timeline", `[...document.querySelectorAll('#one-timeline li.ev-dispatched')].some((li) => /iotcall/.test(li.innerText) && /aiko/.test(li.innerText))`)
	tb.until("step 2 in the plan", `document.getElementById('one-plan').innerText.includes('Step 2')`)
	tb.accessibleNames("one escalation")
	tb.screenshots("escalation")

	// Acknowledge: asked once who you are, then the phones stop.
	before := escalation(t, a, started.EscalationID)
	if before.Status != "active" || before.Step != 0 || before.NextAt.IsZero() {
		t.Fatalf("before the ack: %+v, want active at step 1 with a next step", before)
	}
	tb.click("#one-ack")
	tb.visible("act-by")
	tb.accessibleNames("who are you")
	tb.type_("act-by", "aiko")
	tb.type_("act-comment", "on it")
	tb.click("#act-submit")
	acked := await(t, events, "db-primary-down", outcome.Acknowledged)
	if time.Now().After(before.NextAt) {
		t.Fatalf("the ack came %s after the second step was due: the page was too slow for this test's policy (raise console-db's wait)", time.Since(before.NextAt))
	}
	if acked.By != "aiko" || acked.Via != "api" || acked.Comment != "on it" {
		t.Errorf("acknowledged %+v: want by aiko via api, comment \"on it\"", acked)
	}
	tb.until("the result, from the outcome stream", `[...document.querySelectorAll('#toasts .toast')].some((el) => el.innerText.startsWith('Acknowledged by aiko'))`)
	tb.until("the status", `document.querySelector('#one-head .badge').innerText === 'acknowledged'`)
	if eval[string](tb, `localStorage.getItem('escalator.by')`) != "aiko" {
		t.Error("who you are is not kept in localStorage")
	}
	// The second step was due at before.NextAt: no call comes, up to a
	// second and a half past it.
	for deadline := before.NextAt.Add(1500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if n := calls(a, "console-db-oncall"); n != 0 {
			t.Fatalf("the second step called %d time(s) after the ack", n)
		}
	}
	if n := calls(a, "console-db-first"); n != 1 {
		t.Errorf("the first step called %d times, want 1", n)
	}
	tb.open(base + "/#/")
	tb.until("the escalation among the acknowledged", cardOf("acknowledged", "db-primary-down"))

	// A silence made from the page: the next matching alert calls nobody.
	publish(t, nc, `{"id":"web-5xx","status":"firing","summary":"the shop answers 5xx","labels":{"team":"web"}}`)
	web := await(t, events, "web-5xx", outcome.Dispatched)
	tb.open(base + "/#/e/" + web.EscalationID)
	tb.until("the web escalation", `document.querySelector('#one-head .badge') && document.querySelector('#one-head .badge').innerText === 'calling'`)
	tb.click("#one-silence")
	tb.visible("silence-matchers")
	tb.accessibleNames("silence form")
	if got := eval[string](tb, `document.getElementById('silence-by').value`); got != "aiko" {
		t.Errorf("the silence form asks who you are again (%q): it should know", got)
	}
	tb.setValue("silence-matchers", "team=web")
	tb.type_("silence-comment", "shop deploy, CHG-42")
	tb.click("#silence-submit")
	tb.until("the silence made", `[...document.querySelectorAll('#toasts .toast')].some((el) => el.innerText.startsWith('Silence made'))`)
	tb.until("the running web escalation kept quiet, from the outcome stream", `[...document.querySelectorAll('#toasts .toast')].some((el) => el.innerText.includes('web-5xx kept quiet'))`)
	publish(t, nc, `{"id":"web-slow","status":"firing","summary":"the shop is slow","labels":{"team":"web"}}`)
	quiet := await(t, events, "web-slow", outcome.Silenced)
	if quiet.Silence == "" {
		t.Errorf("silenced %+v: no silence named", quiet)
	}
	if n := calls(a, "console-web"); n != 1 {
		t.Errorf("console-web calls %d, want 1 (web-5xx before the silence, none after)", n)
	}
	tb.open(base + "/#/")
	tb.until("the quiet escalation in the list", cardOf("active", "web-slow")+`.dataset.status === 'silenced'`)
	tb.open(base + "/#/silences")
	tb.until("the silence, by whom and why", `[...document.querySelectorAll('#silence-list article')].some((a) => /team=web/.test(a.innerText) && /aiko/.test(a.innerText) && /CHG-42/.test(a.innerText) && a.querySelector('.badge').innerText === 'active')`)
	tb.until("the heartbeat monitor", `document.querySelector('#heartbeat-list [data-heartbeat="console-backup"]')`)
	tb.accessibleNames("silences")
	tb.screenshots("silences")

	// On call at a fixed moment, from the page's ?at=: kenji's week; the
	// next week yuki's; over New Year yuki by an override.
	for _, tt := range []struct{ at, who, source string }{
		{"2026-01-13T03:00:00+09:00", "kenji", "rotation"},
		{"2026-01-20T03:00:00+09:00", "yuki", "rotation"},
		{"2026-12-30T12:00:00+09:00", "yuki", "override"},
	} {
		tb.open(base + "/?at=" + strings.ReplaceAll(tt.at, "+", "%2B") + "#/oncall")
		tb.until("who is on call at "+tt.at, `document.querySelector('[data-oncall="console-db"]') && document.querySelector('[data-oncall="console-db"]').innerText === `+jsString(tt.who))
		if got := tb.text(`[data-roster="console-db"] .who + *`); got != tt.source {
			t.Errorf("at %s: the source shown is %q, want %q", tt.at, got, tt.source)
		}
	}
	tb.until("the hand-offs of the next two weeks", `document.querySelectorAll('[data-roster="console-db"] tbody tr').length >= 1`)
	tb.accessibleNames("on call")
	tb.screenshots("oncall")

	// The dark palette, for the record.
	tb.colorScheme("dark")
	tb.open(base + "/#/e/" + web.EscalationID)
	tb.until("the escalation, dark", `document.querySelectorAll('#one-timeline li').length > 2`)
	tb.screenshots("escalation-dark")
	tb.colorScheme("")

	tb.checkClean()
}

// TestConsoleLogin: with a token configured, the page asks for it, refuses
// a wrong one, and works with the right one, which it keeps for the tab
// (sessionStorage) and never puts in a URL.
func TestConsoleLogin(t *testing.T) {
	const token = "console-s3cret-token"
	a := worker(t, token)
	tb := browser(t)
	base := "http://" + a.HTTPAddr()

	tb.viewport(phone)
	tb.open(base + "/")
	tb.visible("view-login")
	if eval[bool](tb, `!document.getElementById('view-escalations').hidden`) {
		t.Fatal("the escalations show before the login")
	}
	tb.accessibleNames("login")
	tb.screenshots("login")

	tb.type_("login-token", "not-the-token")
	tb.click("#login-submit")
	tb.until("the refusal", `!document.getElementById('login-error').hidden && /refused/.test(document.getElementById('login-error').innerText)`)
	if eval[bool](tb, `document.getElementById('view-login').hidden`) {
		t.Fatal("a wrong token got past the login")
	}
	if got := eval[string](tb, `sessionStorage.getItem('escalator.token') || ''`); got != "" {
		t.Errorf("a refused token is kept: %q", got)
	}

	tb.do("clear the token", chromedp.Clear(chromedp.ID("login-token")))
	tb.type_("login-token", token)
	tb.click("#login-submit")
	tb.visible("view-escalations")
	tb.until("the event stream, with the token", `document.getElementById('live').dataset.state === 'on'`)
	if got := eval[string](tb, `sessionStorage.getItem('escalator.token')`); got != token {
		t.Errorf("sessionStorage has %q, want the token", got)
	}
	if got := eval[string](tb, `localStorage.getItem('escalator.token') || ''`); got != "" {
		t.Errorf("the token is in localStorage (%q): it should not outlive the tab", got)
	}

	// A reload keeps the tab signed in; the token works for every view.
	tb.open(base + "/#/silences")
	tb.visible("view-silences")
	tb.until("the heartbeat monitor, read with the token", `document.querySelector('#heartbeat-list [data-heartbeat="console-backup"]')`)
	tb.open(base + "/#/oncall")
	tb.until("the rosters, read with the token", `document.querySelector('[data-oncall="console-db"]')`)

	// Signing out forgets it.
	tb.click("#signout")
	tb.visible("view-login")
	if got := eval[string](tb, `sessionStorage.getItem('escalator.token') || ''`); got != "" {
		t.Errorf("signed out, sessionStorage still has %q", got)
	}

	urls := tb.requested()
	if !slices.ContainsFunc(urls, func(u string) bool { return strings.Contains(u, "/v1/events") }) {
		t.Errorf("the page never opened the event stream: %v", urls)
	}
	for _, u := range urls {
		if strings.Contains(u, token) || strings.Contains(u, "not-the-token") {
			t.Errorf("a token in a URL: %s", u)
		}
	}
	tb.checkClean("401")
}
