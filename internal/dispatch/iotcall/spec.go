package iotcall

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall/iotcallsim"
	"github.com/escalator-oss/escalator/internal/phone"
	"github.com/escalator-oss/escalator/internal/provider"
)

// DefaultBaseURL is IoTCall's API root.
const DefaultBaseURL = "https://sys.iotcall.jp"

// Spec is IoTCall's dispatch.Spec.
type Spec struct{}

// Name implements dispatch.Spec.
func (Spec) Name() string { return Name }

// Vars implements dispatch.Spec.
func (Spec) Vars() []dispatch.Var {
	return []dispatch.Var{
		{Name: "IOTCALL_AUTH_CODE", Secret: true, Help: "the account's Auth Code (sent raw as the Authorization header)"},
		{Name: "IOTCALL_BASE_URL", Help: "the API root (default " + DefaultBaseURL + ")"},
		{Name: "IOTCALL_COUNTRY_IDS", Help: `calling code = international_prefix_id, comma-separated (default "81=1")`},
	}
}

// Load implements dispatch.Spec.
func (Spec) Load(getenv func(string) string) (dispatch.Setup, error) {
	r := dispatch.NewEnvReader(getenv)
	s := setup{authCode: r.Secret("IOTCALL_AUTH_CODE"), baseURL: r.URL("IOTCALL_BASE_URL", DefaultBaseURL)}
	ids, err := ParseCountryIDs(r.Value("IOTCALL_COUNTRY_IDS"))
	if err != nil {
		r.Fail(err)
	}
	s.countryIDs = ids
	return s, r.Err()
}

// ParseCountryIDs reads IOTCALL_COUNTRY_IDS: "81=1,1=2" maps calling codes
// to IoTCall's international_prefix_id (the position in the account's list
// of countries). Empty gives phone.DefaultIoTCallCountryIDs (Japan = 1, the
// manual's example).
func ParseCountryIDs(s string) (map[int]int, error) {
	if strings.TrimSpace(s) == "" {
		out := make(map[int]int, len(phone.DefaultIoTCallCountryIDs))
		for k, v := range phone.DefaultIoTCallCountryIDs {
			out[k] = v
		}
		return out, nil
	}
	out := make(map[int]int)
	for _, pair := range strings.Split(s, ",") {
		code, id, ok := strings.Cut(strings.TrimSpace(pair), "=")
		c, err1 := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(code), "+"))
		i, err2 := strconv.Atoi(strings.TrimSpace(id))
		if !ok || err1 != nil || err2 != nil || c < 1 || i < 1 {
			return nil, fmt.Errorf("parse IOTCALL_COUNTRY_IDS: %q is not <calling code>=<list position from 1>, e.g. \"81=1\"", pair)
		}
		out[c] = i
	}
	return out, nil
}

// setup is IoTCall's configuration on this worker.
type setup struct {
	authCode   dispatch.Secret
	baseURL    string
	countryIDs map[int]int
}

func (setup) Name() string          { return Name }
func (s setup) Configured() bool    { return s.authCode != "" && s.baseURL != "" }
func (s setup) Kind() provider.Kind { return Kind{CountryIDs: s.countryIDs} }
func (s setup) Secrets() []string   { return secrets(s.authCode) }
func (s setup) String() string {
	return fmt.Sprintf("iotcall{auth_code=%s base_url=%s country_ids=%s}", s.authCode, s.baseURL, strings.Join(countryList(s.countryIDs), ","))
}

// New builds the client. The rule lists are locked through deps.Locker
// across workers when it is set.
func (s setup) New(ctx context.Context, deps dispatch.Deps) (dispatch.Provider, error) {
	cfg := Config{BaseURL: s.baseURL, AuthCode: s.authCode.Reveal(), CountryIDs: s.countryIDs,
		HTTPClient: deps.HTTPClient, Logger: deps.Logger}
	if deps.Locker != nil {
		l, err := deps.Locker(ctx)
		if err != nil {
			return nil, fmt.Errorf("configure iotcall: %w", err)
		}
		cfg.Locker = l
	}
	c, err := New(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure iotcall: %w", err)
	}
	return c, nil
}

func secrets(ss ...dispatch.Secret) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s.Reveal())
		}
	}
	return out
}

func countryList(ids map[int]int) []string {
	codes := make([]int, 0, len(ids))
	for c := range ids {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = fmt.Sprintf("%d=%d", c, ids[c])
	}
	return out
}

// simAuthCode is the simulated account's Auth Code.
const simAuthCode = "sim-iotcall-auth-code"

// Simulate implements dispatch.Spec.
func (Spec) Simulate(opt dispatch.SimOptions) dispatch.Sim {
	sim := iotcallsim.New(simAuthCode)
	return &Sim{Server: &iotcallsim.Server{Sim: sim, HTTP: httptest.NewServer(opt.Wrap(sim))}, types: map[string]iotcallsim.RuleType{}}
}

// Sim is IoTCall's simulator as a dispatch.Sim; its Server is there for
// tests to inject faults and read what was rung.
type Sim struct {
	*iotcallsim.Server
	mu    sync.Mutex
	types map[string]iotcallsim.RuleType
}

// Name implements dispatch.Sim.
func (*Sim) Name() string { return Name }

// Env implements dispatch.Sim.
func (s *Sim) Env() map[string]string {
	return map[string]string{"IOTCALL_AUTH_CODE": simAuthCode, "IOTCALL_BASE_URL": s.URL()}
}

// Prepare implements dispatch.Sim: the step's rule exists, or every rule of
// its pool, with the call type the step's strategy needs (a rule's call type
// is fixed in IoTCall's dashboard; two steps using one rule with two types
// cannot both be right, and the last one wins). An existing rule keeps its
// number list.
func (s *Sim) Prepare(ps provider.Settings, step provider.Step) {
	set, err := provider.As[Settings](provider.Via{Provider: Name, Settings: ps})
	if err != nil {
		return
	}
	typ := RuleType(step)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rule := range set.Pool() {
		if old, ok := s.types[rule]; ok && old == typ {
			continue
		}
		s.types[rule] = typ
		s.AddRule(rule, typ)
	}
}

// RuleType is the IoTCall call type a step's strategy needs.
func RuleType(step provider.Step) iotcallsim.RuleType {
	switch step.Strategy {
	case provider.Broadcast:
		if step.StopOnAnswer {
			return iotcallsim.BroadcastStopOnAnswer
		}
		return iotcallsim.Broadcast
	case provider.Rotation:
		if step.PassOn {
			return iotcallsim.RotationPassOn
		}
		return iotcallsim.Rotation
	}
	return iotcallsim.Normal
}

// GoString is String, so that %#v redacts too.
func (s setup) GoString() string { return s.String() }
