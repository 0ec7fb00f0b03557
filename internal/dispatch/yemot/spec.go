package yemot

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot/yemotsim"
	"github.com/escalator-oss/escalator/internal/provider"
)

// Spec is Yemot's dispatch.Spec.
type Spec struct{}

// Name implements dispatch.Spec.
func (Spec) Name() string { return Name }

// Vars implements dispatch.Spec.
func (Spec) Vars() []dispatch.Var {
	return []dispatch.Var{
		{Name: "YEMOT_TOKEN", Secret: true, Help: `"<system number>:<password>" or a session token`},
		{Name: "YEMOT_USERNAME", Secret: true, Help: "the system number, to log in with YEMOT_PASSWORD instead of a token"},
		{Name: "YEMOT_PASSWORD", Secret: true, Help: "the system's password, with YEMOT_USERNAME"},
		{Name: "YEMOT_BASE_URL", Help: "the API root (default " + DefaultBaseURL + ")"},
		{Name: "YEMOT_CHECK_ANSWERED", Help: "true: ask GetCampaignStatus whether calls were answered, which a Yemot rotation needs (default false)"},
		{Name: "YEMOT_SMS_ACK", Help: "true: read the text messages people send to the system (GetSmsIncomingLog) as replies that may acknowledge (default false)"},
	}
}

// Load implements dispatch.Spec.
func (Spec) Load(getenv func(string) string) (dispatch.Setup, error) {
	r := dispatch.NewEnvReader(getenv)
	s := setup{token: r.Secret("YEMOT_TOKEN"), username: r.Secret("YEMOT_USERNAME").Reveal(), password: r.Secret("YEMOT_PASSWORD"),
		baseURL: r.URL("YEMOT_BASE_URL", DefaultBaseURL), checkAnswered: r.Bool("YEMOT_CHECK_ANSWERED"),
		smsAck: r.Bool("YEMOT_SMS_ACK")}
	if (s.username == "") != (s.password == "") {
		r.Fail(errors.New("load environment: YEMOT_USERNAME and YEMOT_PASSWORD must be set together"))
	}
	return s, r.Err()
}

// setup is Yemot's configuration on this worker.
type setup struct {
	token         dispatch.Secret
	username      string
	password      dispatch.Secret
	baseURL       string
	checkAnswered bool
	smsAck        bool
}

func (setup) Name() string          { return Name }
func (s setup) Kind() provider.Kind { return Kind{CheckAnswered: s.checkAnswered} }
func (s setup) Secrets() []string   { return nonEmpty(s.token.Reveal(), s.password.Reveal()) }
func (s setup) Configured() bool {
	return (s.token != "" || (s.username != "" && s.password != "")) && s.baseURL != ""
}
func (s setup) String() string {
	return fmt.Sprintf("yemot{token=%s username=%s password=%s base_url=%s}", s.token, s.username, s.password, s.baseURL)
}

// New builds the client: with the token, or logging in with the username
// and password.
func (s setup) New(_ context.Context, deps dispatch.Deps) (dispatch.Provider, error) {
	cfg := Config{BaseURL: s.baseURL, Token: s.token.Reveal(), Logger: deps.Logger, CheckAnswered: s.checkAnswered,
		SMSAck: s.smsAck, HTTPClient: deps.HTTPClient}
	if cfg.Token == "" {
		cfg.Username, cfg.Password = s.username, s.password.Reveal()
	}
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return c.Provider(), nil
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Simulate implements dispatch.Spec.
func (Spec) Simulate(opt dispatch.SimOptions) dispatch.Sim {
	return &Sim{Server: yemotsim.New(yemotsim.Config{Wrap: opt.Wrap})}
}

// Sim is Yemot's simulator as a dispatch.Sim; its Server is there for tests
// (ReceiveSMS, WillAnswer, SetEntryStatus ...).
type Sim struct {
	*yemotsim.Server
	smsAck atomic.Bool
}

// Name implements dispatch.Sim.
func (*Sim) Name() string { return Name }

// Env implements dispatch.Sim: the simulator can tell whether a call was
// answered, so answered detection is on. Reading text messages as replies
// (YEMOT_SMS_ACK) is off unless AckBySMS turned it on.
func (s *Sim) Env() map[string]string {
	env := map[string]string{"YEMOT_TOKEN": s.Token(), "YEMOT_BASE_URL": s.Server.URL(), "YEMOT_CHECK_ANSWERED": "true"}
	if s.smsAck.Load() {
		env["YEMOT_SMS_ACK"] = "true"
	}
	return env
}

// AckBySMS turns on (or off) YEMOT_SMS_ACK in Env, for a test or the demo
// that acknowledges with a text message (Server.ReceiveSMS).
func (s *Sim) AckBySMS(on bool) { s.smsAck.Store(on) }

// Prepare implements dispatch.Sim: Yemot needs nothing prepared.
func (*Sim) Prepare(provider.Settings, provider.Step) {}

// GoString is String, so that %#v redacts too.
func (s setup) GoString() string { return s.String() }
