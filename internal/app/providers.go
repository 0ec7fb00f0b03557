package app

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/kvlock"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/policystore"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/providers"
)

// providerTimeout bounds a provider's HTTP request as a last resort: the
// Dispatcher bounds each attempt.
const providerTimeout = 30 * time.Second

// providers reads the providers' configuration (from the environment, or
// the simulators' with SimulateProviders, which it starts) and loads the
// policies against it: a policy that needs a provider this worker cannot
// call is refused before an alert depends on it.
func (a *App) providers(log *zap.Logger) (providers.Setups, *policystore.Store, error) {
	getenv := a.cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if a.cfg.SimulateProviders {
		a.sims = StartSims(nil, a.log, dispatch.SimOptions{})
		// The simulators' account, and for what they do not set (a
		// provider's options, such as YEMOT_SMS_ACK) the environment.
		env := getenv
		getenv = func(k string) string {
			if v := a.sims.Getenv(k); v != "" {
				return v
			}
			if base, ok := strings.CutSuffix(k, "_FILE"); ok && a.sims.Getenv(base) != "" {
				return "" // a real credential's file: the simulator's wins
			}
			return env(k)
		}
		log.Warn("SIMULATED PROVIDERS: no real phone calls are placed; the providers are simulators on loopback",
			zap.Strings("urls", a.sims.urls()))
	}
	setups, err := providers.Load(getenv)
	if err != nil {
		return nil, nil, err
	}
	store, err := a.loadPolicies(policy.Options{Providers: setups.Kinds(), Configured: setups.Configured()})
	if err != nil {
		return nil, nil, err
	}
	if a.sims != nil {
		a.sims.Prepare(store.Current())
	}
	return setups, store, nil
}

// Sims are the provider simulators of a worker run with SimulateProviders
// (providers.SimOf finds one by type).
type Sims struct {
	providers.Sims
	mu   sync.Mutex
	last *policy.Set
}

// StartSims starts every provider's simulator on loopback, prepared for
// set's policies (nil: none yet). Close them when done.
func StartSims(set *policy.Set, log *zap.Logger, opt dispatch.SimOptions) *Sims {
	s := &Sims{Sims: providers.Simulate(opt)}
	s.Prepare(set)
	return s
}

// Prepare makes what set's policies need exist in the simulators.
func (s *Sims) Prepare(set *policy.Set) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = set
	if set == nil {
		return
	}
	for _, p := range set.Policies {
		for _, st := range p.Steps {
			step := provider.Step{Strategy: st.Strategy, StopOnAnswer: st.StopOnAnswer, PassOn: st.PassOn}
			for _, v := range st.Via {
				s.Sims.Prepare(v, step)
			}
		}
	}
}

// Environ is the simulators' account as provider environment variables
// (IOTCALL_AUTH_CODE, YEMOT_TOKEN, ...), for a worker in another process.
// Answered detection is left at its default (off), as in a deployment that
// does not turn it on.
func (s *Sims) Environ() []string {
	var out []string
	for _, kv := range s.Sims.Environ() {
		if !isAnsweredSwitch(kv) {
			out = append(out, kv)
		}
	}
	return out
}

func isAnsweredSwitch(kv string) bool {
	for _, v := range []string{"YEMOT_CHECK_ANSWERED=", "CCAI_CHECK_ANSWERED="} {
		if len(kv) >= len(v) && kv[:len(v)] == v {
			return true
		}
	}
	return false
}

func (s *Sims) urls() []string {
	var out []string
	for _, sim := range s.Sims {
		out = append(out, sim.Name()+" "+sim.URL())
	}
	return out
}

// follow returns current, teaching the simulators what policies loaded
// later (a reload) need, so that it exists there too.
func (s *Sims) follow(current func() *policy.Set) func() *policy.Set {
	return func() *policy.Set {
		set := current()
		s.mu.Lock()
		changed := set != nil && set != s.last
		s.mu.Unlock()
		if changed {
			s.Prepare(set)
		}
		return set
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

// buildProviders makes a client for every configured provider. A provider
// that changes shared state on its side (IoTCall's rule lists) locks it
// through a JetStream KV bucket, across replicas; the bucket has the given
// replicas, like every other one.
func buildProviders(ctx context.Context, setups providers.Setups, js jetstream.JetStream, replicas int, rt http.RoundTripper, log *zap.Logger) (map[string]dispatch.Provider, error) {
	if rt == nil {
		rt = ProviderTransport()
	}
	deps := dispatch.Deps{
		HTTPClient: dispatch.NewHTTPClient(rt, providerTimeout),
		Logger:     log,
		Locker: func(ctx context.Context) (dispatch.Locker, error) {
			return kvlock.New(ctx, js, kvlock.Config{Bucket: natsx.BucketLocks, Replicas: replicas, Logger: log})
		},
	}
	out := map[string]dispatch.Provider{}
	for _, s := range setups {
		if !s.Configured() {
			continue
		}
		p, err := s.New(ctx, deps)
		if err != nil {
			return nil, fmt.Errorf("configure %s: %w", s.Name(), err)
		}
		out[s.Name()] = p
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
