// Package providers is the registry of the telephony providers: the one
// place that lists them. Everything else about a provider lives in its own
// folder, internal/dispatch/<name>, behind dispatch.Spec; the worker, the
// policy check and the simulators find the providers here.
package providers

import (
	"errors"
	"strings"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/ccai"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/provider"
)

// All is every provider escalator can call, one line each, in the order
// messages list them.
var All = []dispatch.Spec{
	iotcall.Spec{},
	yemot.Spec{},
	ccai.Spec{},
}

// Names returns the providers' names, in order.
func Names() []string {
	out := make([]string, len(All))
	for i, s := range All {
		out[i] = s.Name()
	}
	return out
}

// Setups is every provider's configuration on this worker, in All's order.
type Setups []dispatch.Setup

// Load reads every provider's configuration through getenv (nil: nothing
// set), reporting every problem of every provider at once.
func Load(getenv func(string) string) (Setups, error) {
	out := make(Setups, 0, len(All))
	var errs []error
	for _, s := range All {
		st, err := s.Load(getenv)
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, st)
	}
	return out, errors.Join(errs...)
}

// Kinds returns every provider's policy side with the defaults (no
// environment), for checking policies without a deployment.
func Kinds() provider.Kinds {
	s, _ := Load(nil)
	return s.Kinds()
}

// Kinds returns the providers' policy side as configured.
func (s Setups) Kinds() provider.Kinds {
	out := make(provider.Kinds, len(s))
	for i, st := range s {
		out[i] = st.Kind()
	}
	return out
}

// Configured says, by name, whether each provider can call.
func (s Setups) Configured() map[string]bool {
	out := make(map[string]bool, len(s))
	for _, st := range s {
		out[st.Name()] = st.Configured()
	}
	return out
}

// Secrets returns every credential set, for a dispatch.Redactor.
func (s Setups) Secrets() []string {
	var out []string
	for _, st := range s {
		out = append(out, st.Secrets()...)
	}
	return out
}

// String describes every provider's configuration, secrets redacted.
func (s Setups) String() string {
	parts := make([]string, len(s))
	for i, st := range s {
		parts[i] = st.String()
	}
	return strings.Join(parts, " ")
}

// GoString is String, so that %#v redacts too.
func (s Setups) GoString() string { return "providers.Setups{" + s.String() + "}" }
