// Package dispatch places an escalation step's phone calls through the
// telephony providers: the provider contract, the one retry wrapper, the
// fallback chain across providers, and the cost and abuse guards.
//
// It knows nothing of JetStream or of the policy files' YAML: the engine maps
// a policy step onto a Request and a chain of Via, and publishes what Dispatch
// reports as outcome events.
package dispatch

import (
	"context"

	"github.com/escalator-oss/escalator/internal/provider"
)

// Request is one step's calls through one provider.
type Request struct {
	// EscalationID and AlertID identify the escalation (for logs, events, and
	// provider-side idempotency where a provider supports it).
	EscalationID string
	AlertID      string
	// Step is the step index within the policy, from 0; Loop the repeat
	// round, from 0.
	Step, Loop int
	// Summary is the alert's one-line summary (what a provider may speak).
	Summary string
	// Strategy and its options.
	Strategy provider.Strategy
	// StopOnAnswer (broadcast): stop calling the others as soon as one answers.
	StopOnAnswer bool
	// PassOn (rotation): the one who answers may pass it on (IoTCall's press-9 mode).
	PassOn bool
	// People to call, in order (the order of a rotation).
	People []provider.Person
	// Via is this provider's settings (provider.As reads them).
	Via provider.Via
	// Stopped, when not nil, reports whether the escalation was acknowledged or
	// resolved meanwhile; a provider that calls people one after another over
	// time checks it between calls and stops early.
	Stopped func() bool
}

// Result is what a provider reports for an accepted request.
type Result struct {
	// Provider is the provider's name.
	Provider string `json:"provider"`
	// References are the provider's handles: IoTCall rule key, Yemot campaign
	// ids, CCAI call ids. Never secret.
	References []string `json:"references,omitempty"`
	// Reached are the people the provider placed a call for (accepted),
	// exactly those: the dispatcher trusts it and never infers it.
	Reached []provider.Person `json:"reached,omitempty"`
	// Failed are people the provider could not call (refused individually,
	// e.g. numbers in Yemot's `errors`; too few numbers for an IoTCall
	// rule), with the reason. The fallback chain tries them with the next
	// provider.
	Failed []provider.Unreached `json:"failed,omitempty"`
	// NotCalled are people the provider did not call on purpose, with the
	// reason: the rest of a rotation that stopped because someone answered
	// or the escalation was acknowledged. They are not passed on.
	NotCalled []provider.Unreached `json:"not_called,omitempty"`
	// Pending is set when the provider accepted the call but a human must act
	// first (CCAI's 202: the agent must act in their widget).
	Pending bool `json:"pending,omitempty"`
	// Detail is the provider's response body or a short note, kept verbatim
	// where the API documents nothing (secrets never appear in it).
	Detail string `json:"detail,omitempty"`
}

// Provider is implemented by every telephony provider client.
type Provider interface {
	// Name returns the provider's name, as its Spec does.
	Name() string
	// Call places the calls of req and returns, for each person of req,
	// whether it called them (Reached), could not (Failed: the next provider
	// tries them) or did not on purpose (NotCalled). It makes one attempt:
	// retries belong to the Dispatcher. A non-nil error means nothing was
	// placed; wrap it with Retryable when trying again may help (429, 5xx,
	// timeouts, connection errors), otherwise it is permanent. A Result with
	// Failed people and a nil error is a partial success. A person the
	// Result does not mention is taken as Failed ("not reported").
	Call(ctx context.Context, req Request) (Result, error)
}

// AnswerChecker is the optional ability to tell whether a placed call was
// answered. Found on a Provider by type assertion.
type AnswerChecker interface {
	// Answered reports whether any call of res was answered, and by whom
	// (a Person's Name, when the provider says). done is true when the
	// provider's calls are over (answered or not) and asking again is useless.
	Answered(ctx context.Context, res Result) (answered bool, by string, done bool, err error)
}
