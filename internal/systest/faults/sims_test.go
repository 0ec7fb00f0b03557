package faults

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch/ccai/ccaisim"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall/iotcallsim"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot/yemotsim"
	"github.com/escalator-oss/escalator/internal/systest/ledger"
)

// gateMode is what a gate does with a request.
type gateMode int32

const (
	gatePass  gateMode = iota // to the simulator
	gateFail                  // answer 503 without reaching it
	gateStall                 // hang until the client gives up
)

// gate stands in front of a simulator and can take the provider down for as
// long as a test wants (the simulators' FailNext and StallNext count
// requests; an outage "for a minute" is a time).
type gate struct {
	mode    atomic.Int32
	refused atomic.Int64
	next    http.Handler
	closing chan struct{}
	// stalls gets a value (when there is room) for each request stalled.
	stalls chan struct{}
}

func newGate(next http.Handler) *gate {
	return &gate{next: next, closing: make(chan struct{}), stalls: make(chan struct{}, 1)}
}

func (g *gate) set(m gateMode) { g.mode.Store(int32(m)) }

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch gateMode(g.mode.Load()) {
	case gateFail:
		g.refused.Add(1)
		http.Error(w, "service unavailable (fault test)", http.StatusServiceUnavailable)
	case gateStall:
		g.refused.Add(1)
		select {
		case g.stalls <- struct{}{}:
		default:
		}
		// The server notices a client that gave up only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-g.closing:
		}
	default:
		g.next.ServeHTTP(w, r)
	}
}

// sims are the three provider simulators, in the test process (so that what
// they recorded survives a worker killed with SIGKILL), each behind a gate
// and, between the gate and the simulator, a front of the ledger that
// records every call the simulator accepts.
type sims struct {
	iot   *iotcallsim.Sim
	yemot *yemotsim.Server
	ccai  *ccaisim.Server

	iotGate, yemotGate, ccaiGate *gate
	iotSrv, yemotSrv, ccaiSrv    *httptest.Server

	rec ledger.Recorder
	// tagged is set once a worker of this test tags its provider requests
	// (appConfig): in-process workers do, the binary cannot.
	tagged bool
}

func newSims(t *testing.T) *sims {
	t.Helper()
	s := &sims{
		iot:   iotcallsim.New(iotcallAuth),
		yemot: yemotsim.New(yemotsim.Config{}),
		// The platform's limit is 10 requests a second; the client keeps it.
		// An agent takes one call at a time, and the load sends a CCAI
		// alert every 0.4 s through one agent: the simulated calls end
		// (unanswered) at once, so that the agent is free for the next.
		ccai: ccaisim.New(ccaisim.Config{Key: ccaiKey, Secret: ccaiSecret, NoAnswerAfter: time.Millisecond}),
	}
	// The rules, agents of testdata/policies (the call type: strategy single).
	s.iot.AddRule("faults-single", iotcallsim.Normal)
	s.iot.AddRule("faults-chain", iotcallsim.Normal)
	s.ccai.SetAgent("desk-1@example.com", ccaisim.Available)
	s.ccai.SetAgent("desk-2@example.com", ccaisim.Available)

	s.iotGate = newGate(s.rec.Front(ledger.IoTCall, "", s.iot, nil))
	s.iotSrv = httptest.NewServer(s.iotGate)
	s.yemotGate = newGate(s.rec.Front(ledger.Yemot, "", proxyTo(t, s.yemot.URL()), nil))
	s.yemotSrv = httptest.NewServer(s.yemotGate)
	s.ccaiGate = newGate(s.rec.Front(ledger.CCAI, "", proxyTo(t, s.ccai.URL()), nil))
	s.ccaiSrv = httptest.NewServer(s.ccaiGate)
	t.Cleanup(func() {
		for _, g := range []*gate{s.iotGate, s.yemotGate, s.ccaiGate} {
			close(g.closing)
		}
		s.iot.Close()
		s.iotSrv.Close()
		s.yemotSrv.Close()
		s.ccaiSrv.Close()
		s.yemot.Close()
		s.ccai.Close()
	})
	return s
}

func proxyTo(t *testing.T, raw string) http.Handler {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "" // the client sends the whole path (/ym/api/...)
	return httputil.NewSingleHostReverseProxy(u)
}

// env is the providers' environment pointing at the gates.
func (s *sims) env() map[string]string {
	return map[string]string{
		"IOTCALL_AUTH_CODE":   iotcallAuth,
		"IOTCALL_BASE_URL":    s.iotSrv.URL,
		"IOTCALL_COUNTRY_IDS": "81=1",
		"YEMOT_TOKEN":         s.yemot.Token(),
		"YEMOT_BASE_URL":      s.yemotSrv.URL + "/ym/api",
		"CCAI_COMPANY_KEY":    ccaiKey,
		"CCAI_COMPANY_SECRET": ccaiSecret,
		"CCAI_BASE_URL":       s.ccaiSrv.URL,
	}
}

// atSimulators are the calls each simulator recorded itself.
func (s *sims) atSimulators() map[string]int {
	return map[string]int{ledger.IoTCall: len(s.iot.Calls()), ledger.Yemot: len(s.yemot.Campaigns()), ledger.CCAI: len(s.ccai.Calls())}
}

// refused are the requests the gates refused or stalled.
func (s *sims) refused() int64 {
	return s.iotGate.refused.Load() + s.yemotGate.refused.Load() + s.ccaiGate.refused.Load()
}
