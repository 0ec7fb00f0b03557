package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/ccai"
	"github.com/escalator-oss/escalator/internal/dispatch/ccai/ccaisim"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall/iotcallsim"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot/yemotsim"
	"github.com/escalator-oss/escalator/internal/kvlock"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

// Sims are the provider simulators of a worker run with SimulateProviders.
type Sims struct {
	IoTCall *iotcallsim.Server
	Yemot   *yemotsim.Server
	CCAI    *ccaisim.Server

	mu    sync.Mutex
	last  *policy.Set
	rules map[string]iotcallsim.RuleType
	log   *zap.Logger
}

// Close stops the three simulators.
func (s *Sims) Close() {
	s.IoTCall.Close()
	s.Yemot.Close()
	s.CCAI.Close()
}

// simIoTCallAuthCode is the simulated IoTCall account's AuthCode.
const simIoTCallAuthCode = "sim-iotcall-auth-code"

// SimOptions shape the simulators' behaviour beyond their contracts.
type SimOptions struct {
	// Latency delays every response, as a real provider's round trip would.
	Latency time.Duration
	// Observe, when set, sees every request as it arrives, before Latency.
	Observe func(*http.Request)
}

func (o SimOptions) wrap(h http.Handler) http.Handler {
	if o.Latency <= 0 && o.Observe == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.Observe != nil {
			o.Observe(r)
		}
		if o.Latency > 0 {
			t := time.NewTimer(o.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// StartSims starts the simulators on loopback, with a rule for every IoTCall
// rule key the policies use (its call type from the step's strategy), every
// CCAI agent available and every CCAI menu open. Close them when done.
func StartSims(set *policy.Set, log *zap.Logger, opt SimOptions) *Sims {
	if log == nil {
		log = zap.NewNop()
	}
	iot := iotcallsim.New(simIoTCallAuthCode)
	s := &Sims{
		IoTCall: &iotcallsim.Server{Sim: iot, HTTP: httptest.NewServer(opt.wrap(iot))},
		Yemot:   yemotsim.New(yemotsim.Config{Wrap: opt.wrap}),
		CCAI:    ccaisim.New(ccaisim.Config{Wrap: opt.wrap}),
		rules:   map[string]iotcallsim.RuleType{},
		log:     log,
	}
	s.configure(set)
	return s
}

// Environ is the simulators' account as provider environment variables
// (IOTCALL_AUTH_CODE, YEMOT_TOKEN, ...), for a worker in another process.
// Answered detection is left at its default (off), as in a deployment that
// does not turn it on.
func (s *Sims) Environ() []string {
	e := s.env()
	return []string{
		"IOTCALL_AUTH_CODE=" + e.IoTCallAuthCode.Reveal(), "IOTCALL_BASE_URL=" + e.IoTCallBaseURL,
		"YEMOT_TOKEN=" + e.YemotToken.Reveal(), "YEMOT_BASE_URL=" + e.YemotBaseURL,
		"CCAI_COMPANY_KEY=" + e.CCAICompanyKey.Reveal(), "CCAI_COMPANY_SECRET=" + e.CCAICompanySecret.Reveal(),
		"CCAI_BASE_URL=" + e.CCAIBaseURL,
	}
}

// follow returns current, teaching the simulators the rules, agents and
// menus of policies loaded later (a reload), so that they exist there too.
func (s *Sims) follow(current func() *policy.Set) func() *policy.Set {
	return func() *policy.Set {
		set := current()
		s.mu.Lock()
		changed := set != nil && set != s.last
		s.mu.Unlock()
		if changed {
			s.configure(set)
		}
		return set
	}
}

// configure adds what set uses and the simulators lack; existing IoTCall
// rules keep their number lists.
func (s *Sims) configure(set *policy.Set) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = set
	log := s.log
	types := map[string]iotcallsim.RuleType{}
	for _, p := range set.Policies {
		for _, st := range p.Steps {
			for _, v := range st.Via {
				switch {
				case v.IoTCall != nil:
					typ := ruleType(st)
					if old, ok := types[v.IoTCall.Rule]; ok && old != typ {
						log.Warn("simulated IoTCall rule used with two call types; the last one wins",
							zap.String("rule", v.IoTCall.Rule))
					}
					types[v.IoTCall.Rule] = typ
				case v.CCAI != nil:
					for _, a := range v.CCAI.Agents {
						s.CCAI.SetAgent(a, ccaisim.Available)
					}
					if v.CCAI.MenuID > 0 {
						s.CCAI.SetMenu(v.CCAI.MenuID, "ivr_menu", ccaisim.MenuOpen)
					}
				}
			}
		}
	}
	for rule, typ := range types {
		if old, ok := s.rules[rule]; !ok || old != typ {
			s.IoTCall.AddRule(rule, typ)
			s.rules[rule] = typ
		}
	}
}

// ruleType is the IoTCall call type a step's strategy needs.
func ruleType(st policy.Step) iotcallsim.RuleType {
	switch st.Strategy {
	case provider.Broadcast:
		if st.StopOnAnswer {
			return iotcallsim.BroadcastStopOnAnswer
		}
		return iotcallsim.Broadcast
	case provider.Rotation:
		if st.PassOn {
			return iotcallsim.RotationPassOn
		}
		return iotcallsim.Rotation
	}
	return iotcallsim.Normal
}

// env is the simulators' account, as the environment would give it.
func (s *Sims) env() dispatch.Env {
	ids, _ := dispatch.ParseCountryIDs("")
	return dispatch.Env{
		IoTCallAuthCode: dispatch.Secret(simIoTCallAuthCode), IoTCallBaseURL: s.IoTCall.URL(), IoTCallCountryIDs: ids,
		YemotToken: dispatch.Secret(s.Yemot.Token()), YemotBaseURL: s.Yemot.URL(),
		CCAICompanyKey: "sim-key", CCAICompanySecret: "sim-secret", CCAIBaseURL: s.CCAI.URL(),
		// The simulators can tell whether a call was answered: show it.
		YemotCheckAnswered: true, CCAICheckAnswered: true,
	}
}

// providerEnv reads the providers' configuration from the environment.
func (c Config) providerEnv() (dispatch.Env, error) {
	getenv := c.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	return dispatch.LoadEnv(getenv)
}

// configured says which providers env can call, keyed by provider name.
func configured(env dispatch.Env) map[string]bool {
	return map[string]bool{
		dispatch.IoTCall: env.Configured(dispatch.IoTCall),
		dispatch.Yemot:   env.Configured(dispatch.Yemot),
		dispatch.CCAI:    env.Configured(dispatch.CCAI),
	}
}

// ProviderTransport returns the HTTP transport of the provider clients: Go's
// default, keeping up to 64 idle connections per host instead of 2, since a
// burst of escalations calls the same few provider hosts at once and would
// otherwise open (and, with TLS, handshake) a new connection for most calls.
func ProviderTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

// buildProviders makes a client for every configured provider. IoTCall's
// rule lists are locked through a JetStream KV bucket, across replicas; the
// bucket has the given replicas, like every other one.
func buildProviders(ctx context.Context, env dispatch.Env, js jetstream.JetStream, replicas int, rt http.RoundTripper, log *zap.Logger) (map[string]dispatch.Provider, error) {
	out := map[string]dispatch.Provider{}
	if rt == nil {
		rt = ProviderTransport()
	}
	// The Dispatcher bounds each attempt; 30s is a last resort.
	hc := &http.Client{Timeout: 30 * time.Second, Transport: rt}
	if env.Configured(dispatch.IoTCall) {
		locker, err := kvlock.New(ctx, js, kvlock.Config{Bucket: natsx.BucketLocks, Replicas: replicas, Logger: log})
		if err != nil {
			return nil, err
		}
		c, err := iotcall.New(iotcall.Config{BaseURL: env.IoTCallBaseURL, AuthCode: env.IoTCallAuthCode.Reveal(),
			CountryIDs: env.IoTCallCountryIDs, Locker: locker, Logger: log, HTTPClient: hc})
		if err != nil {
			return nil, fmt.Errorf("configure iotcall: %w", err)
		}
		out[dispatch.IoTCall] = c
	}
	if env.Configured(dispatch.Yemot) {
		cfg := yemot.Config{BaseURL: env.YemotBaseURL, Token: env.YemotToken.Reveal(), Logger: log, CheckAnswered: env.YemotCheckAnswered, HTTPClient: hc}
		if cfg.Token == "" {
			cfg.Username, cfg.Password = env.YemotUsername, env.YemotPassword.Reveal()
		}
		c, err := yemot.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("configure yemot: %w", err)
		}
		out[dispatch.Yemot] = c.Provider()
	}
	if env.Configured(dispatch.CCAI) {
		c, err := ccai.New(ccai.Config{BaseURL: env.CCAIBaseURL, CompanyKey: env.CCAICompanyKey.Reveal(),
			CompanySecret: env.CCAICompanySecret.Reveal(), Logger: log, CheckAnswered: env.CCAICheckAnswered, HTTPClient: hc})
		if err != nil {
			return nil, fmt.Errorf("configure ccai: %w", err)
		}
		out[dispatch.CCAI] = c.Provider()
	}
	return out, nil
}

// answerers are the providers that can tell whether a call was answered.
func answerers(providers map[string]dispatch.Provider) map[string]dispatch.AnswerChecker {
	out := map[string]dispatch.AnswerChecker{}
	for name, p := range providers {
		if ac, ok := p.(dispatch.AnswerChecker); ok {
			out[name] = ac
		}
	}
	return out
}
