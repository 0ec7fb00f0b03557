package providers

import (
	"sort"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/provider"
)

// Sims are every provider's simulator, on loopback.
type Sims []dispatch.Sim

// Simulate starts every provider's simulator. Close them when done.
func Simulate(opt dispatch.SimOptions) Sims {
	out := make(Sims, len(All))
	for i, s := range All {
		out[i] = s.Simulate(opt)
	}
	return out
}

// Getenv reads the environment that points every provider at its simulator.
func (s Sims) Getenv(name string) string {
	for _, sim := range s {
		if v, ok := sim.Env()[name]; ok {
			return v
		}
	}
	return ""
}

// Environ is that environment as NAME=value lines, sorted, for a worker in
// another process.
func (s Sims) Environ() []string {
	var out []string
	for _, sim := range s {
		for k, v := range sim.Env() {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return out
}

// Prepare makes what a policy step's settings need exist in its
// provider's simulator.
func (s Sims) Prepare(v provider.Via, step provider.Step) {
	for _, sim := range s {
		if sim.Name() == v.Provider {
			sim.Prepare(v.Settings, step)
		}
	}
}

// Close stops every simulator.
func (s Sims) Close() {
	for _, sim := range s {
		sim.Close()
	}
}

// SimOf returns the simulator of type T (e.g. *iotcall.Sim), for a test to
// inject faults and read what was rung; the zero T when there is none.
func SimOf[T dispatch.Sim](s Sims) T {
	for _, sim := range s {
		if t, ok := sim.(T); ok {
			return t
		}
	}
	var zero T
	return zero
}
