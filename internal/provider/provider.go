// Package provider is the vocabulary every layer shares about the telephony
// providers: whom to call (Person), how (Strategy), and a step's settings for
// one provider (Settings, carried in a Via). It is a leaf: the policy files,
// the dispatcher, the engine and each provider's own folder meet here, and it
// knows none of them.
//
// Each provider lives in one folder under internal/dispatch/<name>/ that owns
// everything about it; internal/providers lists them (see
// docs/architecture.md, "Adding a provider").
package provider

// Strategy says how the people of one step are called; the meanings are
// IoTCall's call types (発信種別).
type Strategy string

// The strategies a step may use.
const (
	// Single calls exactly one person (通常).
	Single Strategy = "single"
	// Broadcast calls everyone at once (一斉), optionally stopping the
	// others' phones when one answers.
	Broadcast Strategy = "broadcast"
	// Rotation calls one after another, in order, until someone answers (輪番).
	Rotation Strategy = "rotation"
	// RoundRobin calls one person per escalation, the next person for the
	// next escalation (the position is kept in JetStream). The engine picks
	// the person and places the call as Single: a provider never sees it.
	RoundRobin Strategy = "round_robin"
)

// Person is one human to call.
type Person struct {
	// Name is the person's name in the policy (never a secret; used in events).
	Name string `json:"name"`
	// Phone is the number in E.164 form, e.g. "+818043391234". Each provider
	// formats it the way its API wants. In a provider's Request it is the
	// number to call now.
	Phone string `json:"phone"`
	// Alternates are the person's further numbers (E.164), in order: the
	// dispatcher tries the next one with the same provider when the provider
	// refuses or cannot reach the one before, then passes the person on.
	Alternates []string `json:"alternates,omitempty"`
	// ByProvider are numbers (E.164, in order) for one provider, by its
	// name: for that provider they replace Phone and Alternates.
	ByProvider map[string][]string `json:"by_provider,omitempty"`
}

// Numbers returns the numbers to try for p with provider, in order.
func (p Person) Numbers(provider string) []string {
	if n := p.ByProvider[provider]; len(n) > 0 {
		return n
	}
	return append([]string{p.Phone}, p.Alternates...)
}

// Unreached is a person a step meant to call and did not, and why.
type Unreached struct {
	Person Person `json:"person"`
	Reason string `json:"reason"`
}
