package ccai

import (
	"context"
	"errors"
	"fmt"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/ccai/ccaisim"
	"github.com/escalator-oss/escalator/internal/provider"
)

// Spec is CCAI Platform's dispatch.Spec.
type Spec struct{}

// Name implements dispatch.Spec.
func (Spec) Name() string { return Name }

// Vars implements dispatch.Spec.
func (Spec) Vars() []dispatch.Var {
	return []dispatch.Var{
		{Name: "CCAI_COMPANY_KEY", Secret: true, Help: "the HTTP Basic user: the company key, or the API user of Settings > Developer Settings"},
		{Name: "CCAI_COMPANY_SECRET", Secret: true, Help: "the HTTP Basic password: the company secret, or the API password"},
		{Name: "CCAI_BASE_URL", Help: "https://<subdomain>.<domain> (no default)"},
		{Name: "CCAI_CHECK_ANSWERED", Help: "true: ask the Manager API's call list whether calls were answered and when they ended; a rotation needs it (default false)"},
	}
}

// Load implements dispatch.Spec.
func (Spec) Load(getenv func(string) string) (dispatch.Setup, error) {
	r := dispatch.NewEnvReader(getenv)
	s := setup{key: r.Secret("CCAI_COMPANY_KEY"), secret: r.Secret("CCAI_COMPANY_SECRET"), baseURL: r.URL("CCAI_BASE_URL", ""),
		checkAnswered: r.Bool("CCAI_CHECK_ANSWERED")}
	if (s.key == "") != (s.secret == "") {
		r.Fail(errors.New("load environment: CCAI_COMPANY_KEY and CCAI_COMPANY_SECRET must be set together"))
	}
	return s, r.Err()
}

// setup is CCAI Platform's configuration on this worker.
type setup struct {
	key, secret   dispatch.Secret
	baseURL       string
	checkAnswered bool
}

func (setup) Name() string          { return Name }
func (s setup) Kind() provider.Kind { return Kind{CheckAnswered: s.checkAnswered} }
func (s setup) Configured() bool    { return s.key != "" && s.secret != "" && s.baseURL != "" }
func (s setup) Secrets() []string {
	var out []string
	for _, x := range []dispatch.Secret{s.key, s.secret} {
		if x != "" {
			out = append(out, x.Reveal())
		}
	}
	return out
}
func (s setup) String() string {
	return fmt.Sprintf("ccai{company_key=%s company_secret=%s base_url=%s}", s.key, s.secret, s.baseURL)
}

// New builds the client.
func (s setup) New(_ context.Context, deps dispatch.Deps) (dispatch.Provider, error) {
	c, err := New(Config{BaseURL: s.baseURL, CompanyKey: s.key.Reveal(), CompanySecret: s.secret.Reveal(),
		Logger: deps.Logger, CheckAnswered: s.checkAnswered, HTTPClient: deps.HTTPClient})
	if err != nil {
		return nil, fmt.Errorf("configure ccai: %w", err)
	}
	return c.Provider(), nil
}

// Simulate implements dispatch.Spec.
func (Spec) Simulate(opt dispatch.SimOptions) dispatch.Sim {
	return &Sim{Server: ccaisim.New(ccaisim.Config{Wrap: opt.Wrap})}
}

// Sim is CCAI Platform's simulator as a dispatch.Sim; its Server is there
// for tests.
type Sim struct{ *ccaisim.Server }

// Name implements dispatch.Sim.
func (*Sim) Name() string { return Name }

// Env implements dispatch.Sim: the simulator's default account, and
// answered detection on (the simulator keeps call statuses).
func (s *Sim) Env() map[string]string {
	return map[string]string{"CCAI_COMPANY_KEY": "sim-key", "CCAI_COMPANY_SECRET": "sim-secret", "CCAI_BASE_URL": s.URL(),
		"CCAI_CHECK_ANSWERED": "true"}
}

// Prepare implements dispatch.Sim: the step's agents are available and its
// menu open.
func (s *Sim) Prepare(ps provider.Settings, _ provider.Step) {
	set, err := provider.As[Settings](provider.Via{Provider: Name, Settings: ps})
	if err != nil {
		return
	}
	for _, a := range set.Agents {
		s.SetAgent(a, ccaisim.Available)
	}
	if set.MenuID > 0 {
		s.SetMenu(set.MenuID, "ivr_menu", ccaisim.MenuOpen)
	}
}

// GoString is String, so that %#v redacts too.
func (s setup) GoString() string { return s.String() }
