package dispatch

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/provider"
)

// Spec is one provider: everything the worker knows of it, owned by the
// provider's folder (internal/dispatch/<name>) and listed once in
// internal/providers. Adding a provider is one folder and one line there
// (docs/architecture.md, "Adding a provider").
type Spec interface {
	// Name is the provider's name in policies, metrics and outcome events.
	Name() string
	// Vars are the environment variables the provider reads.
	Vars() []Var
	// Load reads the provider's configuration through getenv, reporting
	// every problem at once. A provider without credentials is not
	// configured, which is not an error.
	Load(getenv func(string) string) (Setup, error)
	// Simulate starts the provider's simulator on loopback.
	Simulate(opt SimOptions) Sim
}

// Var is one environment variable a provider reads.
type Var struct {
	Name string
	// Secret marks a credential: it may instead be read from the file
	// named by <Name>_FILE, and it is never printed.
	Secret bool
	// Help says what it is, for the documentation.
	Help string
}

// Setup is a provider's configuration on this worker, as its Spec loaded it.
type Setup interface {
	// Name is the provider's name.
	Name() string
	// Configured reports whether the provider has what it needs to call.
	Configured() bool
	// Kind is the provider's policy side as this deployment sees it.
	Kind() provider.Kind
	// Secrets are the credentials set, for a Redactor.
	Secrets() []string
	// String describes the configuration, its secrets redacted.
	String() string
	// New builds the provider's client (Configured must be true).
	New(ctx context.Context, deps Deps) (Provider, error)
}

// Deps are what the worker gives a provider's client.
type Deps struct {
	// HTTPClient sends the provider's requests (the Dispatcher bounds each
	// attempt; the client's own timeout is a last resort).
	HTTPClient *http.Client
	// Locker, when set, opens the Locker that serialises changes to
	// provider-side shared state across workers (an IoTCall rule's list);
	// nil keeps them within this process. Opened only by a provider that
	// needs it (it may create a KV bucket).
	Locker func(ctx context.Context) (Locker, error)
	// Logger (nil: no logging).
	Logger *zap.Logger
}

// SimOptions shape a simulator beyond its provider's contract.
type SimOptions struct {
	// Latency delays every response, as a real provider's round trip would.
	Latency time.Duration
	// Observe, when set, sees every request as it arrives, before Latency.
	Observe func(*http.Request)
}

// Wrap applies o to a simulator's handler.
func (o SimOptions) Wrap(h http.Handler) http.Handler {
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

// Sim is a provider's simulator on loopback, for tests, the demo and
// --simulate-providers. It enforces the provider's documented contract.
type Sim interface {
	// Name is the provider's name.
	Name() string
	// URL is the simulator's base URL.
	URL() string
	// Env is the environment that points the provider at the simulator,
	// with the simulated account's made-up credentials, and answered
	// detection on where the provider has it.
	Env() map[string]string
	// Prepare makes what a policy step's settings need exist in the
	// simulator: an IoTCall rule of the step's call type, CCAI agents
	// available and menus open. What exists is kept.
	Prepare(s provider.Settings, step provider.Step)
	// Close stops the simulator.
	Close()
}

// AttemptTimer is the optional ability of a provider whose one Call may
// take longer than one request (a Yemot rotation waits between its
// campaigns): it says how long one attempt of req may take, given the
// Dispatcher's base timeout.
type AttemptTimer interface {
	AttemptTimeout(base time.Duration, req Request) time.Duration
}

// NewHTTPClient returns the HTTP client a provider sends its requests
// with: over rt (nil: Go's default transport), bounded by timeout as a last
// resort, and never following a redirect. A provider's API answers its
// requests itself; a redirect leads somewhere else (a login page, a
// maintenance page) whose 2xx must not count as the provider's, so the 3xx
// is returned as it is and classified as an error.
func NewHTTPClient(rt http.RoundTripper, timeout time.Duration) *http.Client {
	return &http.Client{Transport: rt, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Reply is a message a person sent back to a provider (a text message),
// which may acknowledge an escalation that called them.
type Reply struct {
	// ID identifies the message at the provider, the same however often it
	// is read: a reply is applied once, by its ID.
	ID string
	// Provider is the provider's name.
	Provider string
	// From is the sender's number in E.164 form.
	From string
	// Text is the message as sent.
	Text string
	// At is when the provider received it.
	At time.Time
}

// Acknowledger is the optional ability of a provider to hear people's
// replies (Yemot's incoming text messages), found on a Provider by type
// assertion. The worker runs it while it runs.
type Acknowledger interface {
	// Replies reads the provider's replies until ctx ends, every interval,
	// and hands each new one to handle, oldest first; a reply handle fails
	// on is handed again later. It returns only when ctx ends (a polling
	// error is logged and retried with backoff, never fatal).
	Replies(ctx context.Context, interval time.Duration, handle func(context.Context, Reply) error) error
}
