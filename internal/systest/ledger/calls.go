package ledger

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch"
)

// Headers a tagging transport puts on a provider request, and a front reads:
// the escalation and the step the request was made for.
const (
	HeaderEscalation = "X-Escalator-Systest-Escalation"
	HeaderStep       = "X-Escalator-Systest-Step"
	// HeaderLoop is the repeat round.
	HeaderLoop = "X-Escalator-Systest-Loop"
)

// LoopUnknown is a Call's Loop when its request did not say its loop.
const LoopUnknown = -1

// Call is one call a provider simulator accepted: an IoTCall rule fired, a
// Yemot campaign started, a CCAI call created.
type Call struct {
	// Provider is IoTCall, Yemot or CCAI.
	Provider string
	// Ref is the provider's handle, as outcomes name it: the IoTCall rule
	// key (shared by every call through the rule), the Yemot campaign id,
	// the CCAI call id.
	Ref string
	// At is when the front saw the simulator accept it.
	At time.Time
	// Via names the front (e.g. "worker 2"), for people reading a failure.
	Via string
	// Escalation, Step and Loop are the step the worker tagged the request
	// with; Escalation is "" for an untagged request (a worker in another
	// process), Loop LoopUnknown when the tags did not say.
	Escalation string
	Step, Loop int
}

// Tagging returns a transport that sends requests through base and tags
// each one made inside a dispatch (dispatch.RequestFrom) with its escalation
// and step, for app.Config.ProviderTransport. It never changes a caller's
// request: a tagged request is a clone.
func Tagging(base http.RoundTripper) http.RoundTripper { return tagging{base: base} }

type tagging struct{ base http.RoundTripper }

func (t tagging) RoundTrip(r *http.Request) (*http.Response, error) {
	if req, ok := dispatch.RequestFrom(r.Context()); ok && req.EscalationID != "" {
		r = r.Clone(r.Context())
		r.Header.Set(HeaderEscalation, url.PathEscape(req.EscalationID))
		r.Header.Set(HeaderStep, strconv.Itoa(req.Step))
		r.Header.Set(HeaderLoop, strconv.Itoa(req.Loop))
	}
	return t.base.RoundTrip(r)
}

// Recorder keeps the calls the simulators accepted, as the fronts in front
// of them saw them. Safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	calls []Call
}

// Calls returns the calls recorded so far, in the order they were accepted.
func (rec *Recorder) Calls() []Call {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.calls)
}

// Front returns a handler that passes each request to next (a simulator of
// provider, or a proxy to one) and records every call next accepted, with the
// request's tags. When accepted is not nil, it is told of each call once it
// is recorded and before the worker hears the answer; if it returns false the
// connection is cut instead (a worker that dies in the middle of a call).
func (rec *Recorder) Front(provider, via string, next http.Handler, accepted func(Call) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The answer is held back until the call is recorded, so that no
		// worker can act on a call the ledger has not seen. The simulator's
		// answer is awaited even when the worker has gone (killed in the
		// middle of its request): the simulator may have placed the call all
		// the same, and the front must see what the simulator did.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Minute)
		defer cancel()
		resp := httptest.NewRecorder()
		next.ServeHTTP(resp, r.WithContext(ctx))
		if ref, ok := isCall(provider, r, resp.Code, resp.Body.Bytes()); ok {
			c := Call{Provider: provider, Ref: ref, At: time.Now(), Via: via, Step: -1, Loop: LoopUnknown}
			if esc, err := url.PathUnescape(r.Header.Get(HeaderEscalation)); err == nil && esc != "" {
				c.Escalation = esc
				c.Step = atoi(r.Header.Get(HeaderStep), -1)
				c.Loop = atoi(r.Header.Get(HeaderLoop), LoopUnknown)
			}
			rec.mu.Lock()
			rec.calls = append(rec.calls, c)
			rec.mu.Unlock()
			if accepted != nil && !accepted(c) {
				panic(http.ErrAbortHandler)
			}
		}
		for k, v := range resp.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.Code)
		_, _ = w.Write(resp.Body.Bytes())
	})
}

func atoi(s string, otherwise int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return otherwise
	}
	return n
}

var iotcallCall = regexp.MustCompile(`^/pattern/([^/]+)/call$`)

// isCall says whether a provider's answer to r accepted a call, as the
// simulators record one, and the call's reference:
//   - IoTCall: POST /pattern/{rule}/call answered 200 (the rule fired);
//   - Yemot: CallExtensionBridging or RunTzintuk answered responseStatus OK
//     with a campaignId (Yemot answers 200 to everything);
//   - CCAI: POST /apps/api/v1/calls answered 201 with the call's id (a 202
//     is pending: no call yet).
func isCall(provider string, r *http.Request, status int, body []byte) (ref string, ok bool) {
	switch provider {
	case IoTCall:
		m := iotcallCall.FindStringSubmatch(r.URL.Path)
		if m == nil || r.Method != http.MethodPost || status != http.StatusOK {
			return "", false
		}
		return m[1], true
	case Yemot:
		p := r.URL.Path
		if status != http.StatusOK || !(strings.HasSuffix(p, "/CallExtensionBridging") || strings.HasSuffix(p, "/RunTzintuk")) {
			return "", false
		}
		var a struct {
			ResponseStatus string `json:"responseStatus"`
			CampaignID     string `json:"campaignId"`
		}
		if json.Unmarshal(body, &a) != nil || a.ResponseStatus != "OK" || a.CampaignID == "" {
			return "", false
		}
		return a.CampaignID, true
	case CCAI:
		if r.Method != http.MethodPost || r.URL.Path != "/apps/api/v1/calls" || status != http.StatusCreated {
			return "", false
		}
		var c struct {
			ID json.Number `json:"id"`
		}
		if json.Unmarshal(body, &c) != nil || c.ID == "" {
			return "", false
		}
		return c.ID.String(), true
	}
	return "", false
}
