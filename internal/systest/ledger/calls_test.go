package ledger

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch/ccai/ccaisim"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall/iotcallsim"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot/yemotsim"
)

// TestFrontRecordsWhatTheSimulatorsRecord sends requests as the provider
// clients do, tagged as Tagging tags them, through fronts to the real
// simulators: the fronts record a call exactly when a simulator records one,
// with the simulator's reference and the request's tags.
func TestFrontRecordsWhatTheSimulatorsRecord(t *testing.T) {
	var rec Recorder
	serve := func(provider string, next http.Handler, accepted func(Call) bool) string {
		s := httptest.NewServer(rec.Front(provider, "test", next, accepted))
		t.Cleanup(s.Close)
		return s.URL
	}
	proxy := func(raw string) http.Handler {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = ""
		return httputil.NewSingleHostReverseProxy(u)
	}
	send := func(method, target, contentType, body, escalation string, step int, auth func(*http.Request)) (int, error) {
		t.Helper()
		r, err := http.NewRequest(method, target, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", contentType)
		if escalation != "" {
			r.Header.Set(HeaderEscalation, url.PathEscape(escalation))
			r.Header.Set(HeaderStep, strconv.Itoa(step))
		}
		if auth != nil {
			auth(r)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	const form, js = "application/x-www-form-urlencoded", "application/json"

	// IoTCall: setting the numbers is no call; firing the rule is.
	iot := iotcallsim.New("auth")
	t.Cleanup(iot.Close)
	iot.AddRule("r1", iotcallsim.Normal)
	iotURL := serve(IoTCall, iot, nil)
	iotAuth := func(r *http.Request) { r.Header.Set("Authorization", "auth") }
	tels := "call_to_tels[0][tel]=08043391234&call_to_tels[0][group]=1&call_to_tels[0][check]=1&call_to_tels[0][international_prefix_id]=1"
	if code, err := send("PUT", iotURL+"/pattern/r1/tel", form, tels, "esc-1", 1, iotAuth); err != nil || code != 200 {
		t.Fatalf("iotcall PUT tel: %d %v", code, err)
	}
	if code, err := send("POST", iotURL+"/pattern/r1/call", form, "", "esc-1", 1, iotAuth); err != nil || code != 200 {
		t.Fatalf("iotcall POST call: %d %v", code, err)
	}
	if code, _ := send("POST", iotURL+"/pattern/r1/call", form, "", "esc-1", 1, nil); code != 401 {
		t.Fatalf("iotcall POST call without auth: %d", code)
	}

	// Yemot: a campaign answered OK is a call; an ERROR answer and a status
	// request are not. The second campaign's worker "dies" mid-call.
	ym := yemotsim.New(yemotsim.Config{})
	t.Cleanup(ym.Close)
	cut := 0
	ymURL := serve(Yemot, proxy(ym.URL()), func(c Call) bool {
		if c.Escalation == "esc/2" {
			cut++
			return false
		}
		return true
	})
	campaign := "token=" + url.QueryEscape(ym.Token()) + "&phones=0522345678&ivrPath=ivr2:/1"
	if code, err := send("POST", ymURL+"/ym/api/CallExtensionBridging", form, campaign, "esc-1", 0, nil); err != nil || code != 200 {
		t.Fatalf("yemot campaign: %d %v", code, err)
	}
	if _, err := send("POST", ymURL+"/ym/api/CallExtensionBridging", form, campaign, "esc/2", 0, nil); err == nil {
		t.Fatal("yemot campaign of the dying worker: answered, want the connection cut")
	}
	// A worker that gives up (or dies) while the simulator is still placing
	// its call: the front waits for the simulator and records the call.
	arrived, release, recorded := make(chan struct{}), make(chan struct{}), make(chan struct{})
	slowURL := serve(Yemot, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		proxy(ym.URL()).ServeHTTP(w, r)
	}), func(Call) bool { close(recorded); return true })
	ctx, giveUp := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() {
		r, _ := http.NewRequestWithContext(ctx, "POST", slowURL+"/ym/api/CallExtensionBridging", strings.NewReader(campaign))
		r.Header.Set("Content-Type", form)
		r.Header.Set(HeaderEscalation, "esc-3")
		resp, err := http.DefaultClient.Do(r)
		if err == nil {
			resp.Body.Close()
		}
		gone <- err
	}()
	<-arrived
	giveUp()
	if err := <-gone; err == nil {
		t.Fatal("the worker that gave up got an answer")
	}
	close(release)
	select {
	case <-recorded:
	case <-time.After(10 * time.Second):
		t.Fatal("the front did not record the call of a worker that gave up")
	}

	ym.AnswerNext(1, "ERROR", "no units left")
	if code, err := send("POST", ymURL+"/ym/api/CallExtensionBridging", form, campaign, "esc-1", 0, nil); err != nil || code != 200 {
		t.Fatalf("yemot campaign answered ERROR: %d %v", code, err)
	}
	status := "token=" + url.QueryEscape(ym.Token()) + "&campaignId=" + ym.Campaigns()[0].ID
	if code, err := send("POST", ymURL+"/ym/api/GetCampaignStatus", form, status, "esc-1", 0, nil); err != nil || code != 200 {
		t.Fatalf("yemot status: %d %v", code, err)
	}

	// CCAI: 201 is a call (untagged here: a worker in another process); 202
	// (the agent's widget) and 400 are not.
	cc := ccaisim.New(ccaisim.Config{Key: "k", Secret: "s"})
	t.Cleanup(cc.Close)
	cc.SetAgent("a@example.com", ccaisim.Available)
	cc.SetAgent("w@example.com", ccaisim.Widget)
	ccURL := serve(CCAI, proxy(cc.URL()), nil)
	ccAuth := func(r *http.Request) { r.SetBasicAuth("k", "s") }
	body := func(agent string) string {
		return `{"call_type":"Voice Outbound (API)","agent_email":"` + agent + `","end_user_number":"+14155552671","lang":"en"}`
	}
	for _, c := range []struct {
		agent string
		want  int
	}{{"a@example.com", 201}, {"w@example.com", 202}, {"nobody@example.com", 400}} {
		if code, err := send("POST", ccURL+"/apps/api/v1/calls", js, body(c.agent), "", 0, ccAuth); err != nil || code != c.want {
			t.Fatalf("ccai call by %s: %d %v, want %d", c.agent, code, err, c.want)
		}
	}

	calls := rec.Calls()
	var got []string
	for _, c := range calls {
		got = append(got, c.Provider+" "+c.Ref+" "+c.Escalation+" "+strconv.Itoa(c.Step))
	}
	campaigns, ccCalls := ym.Campaigns(), cc.Calls()
	if len(iot.Calls()) != 1 || len(campaigns) != 3 || len(ccCalls) != 1 {
		t.Fatalf("the simulators recorded %d, %d, %d calls; want 1, 3, 1", len(iot.Calls()), len(campaigns), len(ccCalls))
	}
	want := []string{"iotcall r1 esc-1 1", "yemot " + campaigns[0].ID + " esc-1 0", "yemot " + campaigns[1].ID + " esc/2 0",
		"yemot " + campaigns[2].ID + " esc-3 -1", "ccai " + strconv.Itoa(ccCalls[0].ID) + "  -1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the fronts recorded\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if cut != 1 {
		t.Errorf("the dying worker's hook ran %d times, want 1", cut)
	}
	if calls[4].Loop != LoopUnknown {
		t.Errorf("untagged call's loop %d, want LoopUnknown", calls[3].Loop)
	}
}
