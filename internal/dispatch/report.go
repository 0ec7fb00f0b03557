package dispatch

import "github.com/escalator-oss/escalator/internal/provider"

// ReportKind is what a Report tells.
type ReportKind string

// The kinds of Report. dispatched, dispatch_failed and fallback are
// published by the engine as outcome events of the same names.
const (
	// ReportAttempt is one attempt at a provider, successful or not.
	ReportAttempt ReportKind = "attempt"
	// ReportDispatched is a provider accepting calls for People.
	ReportDispatched ReportKind = "dispatched"
	// ReportDispatchFailed is a provider failing for People, after its
	// retries, or refusing them individually.
	ReportDispatchFailed ReportKind = "dispatch_failed"
	// ReportFallback is the chain moving People from Provider to Next.
	ReportFallback ReportKind = "fallback"
	// ReportRefused is a guard refusing a call (Guard says which).
	ReportRefused ReportKind = "refused"
)

// Report is one thing that happened while dispatching a step. It never
// holds a secret: Err is redacted.
type Report struct {
	Kind     ReportKind        `json:"kind"`
	Provider string            `json:"provider"`
	People   []provider.Person `json:"people,omitempty"`
	// References are the provider's handles (dispatched only).
	References []string `json:"references,omitempty"`
	// Attempt is the attempt number (attempt) or the attempts made
	// (dispatched, dispatch_failed).
	Attempt int `json:"attempt,omitempty"`
	// Err is the failure's text, empty on success.
	Err string `json:"error,omitempty"`
	// Next is the provider tried next (fallback only).
	Next string `json:"next,omitempty"`
	// Guard is the refusing guard (refused only).
	Guard string `json:"guard,omitempty"`
	// Pending is set when a human must act before the call goes out.
	Pending bool `json:"pending,omitempty"`
	// NotCalled are the people the provider did not call on purpose, and
	// why (dispatched only): the rest of a rotation that stopped.
	NotCalled []provider.Unreached `json:"not_called,omitempty"`
}

// Outcome is what came of dispatching a step through its chain.
type Outcome struct {
	// Results are the providers' accepted results, in chain order.
	Results []Result `json:"results,omitempty"`
	// Unreached are the people no provider called, with the last reason.
	Unreached []provider.Unreached `json:"unreached,omitempty"`
	// NotCalled are the people a provider did not call on purpose, and
	// why (a rotation that stopped when someone answered).
	NotCalled []provider.Unreached `json:"not_called,omitempty"`
	// Attempts is the number of provider attempts made in all.
	Attempts int `json:"attempts"`
}

// Reached returns the people some provider accepted calls for, with the
// provider that did: the result's Provider and References say the rest.
func (o Outcome) Reached() []provider.Person {
	var out []provider.Person
	for _, r := range o.Results {
		out = append(out, r.Reached...)
	}
	return out
}

// ReachedBy returns the name of the provider that accepted the call to the
// number e164, or "".
func (o Outcome) ReachedBy(e164 string) string {
	for _, r := range o.Results {
		for _, p := range r.Reached {
			if p.Phone == e164 {
				return r.Provider
			}
		}
	}
	return ""
}

// OK reports whether anyone was reached.
func (o Outcome) OK() bool { return len(o.Reached()) > 0 }
