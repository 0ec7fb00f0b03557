package dispatch

import "time"

// attemptTimeout is the per-attempt timeout of req on p: base, or more when
// p says one of its attempts needs more (AttemptTimer).
func attemptTimeout(p Provider, base time.Duration, req Request) time.Duration {
	if base <= 0 {
		base = DefaultRequestTimeout
	}
	if at, ok := p.(AttemptTimer); ok {
		return max(base, at.AttemptTimeout(base, req))
	}
	return base
}
