// Package seed gives the system tests under internal/systest every random
// choice they make (kill times, pauses, which worker dies) from one seed per
// run, which each test logs at its start and again when it fails, and which
// ESCALATOR_SYSTEST_SEED replays.
//
// A replay makes the same choices, not the same run: how fast the machine
// schedules workers, servers and simulators still differs from run to run.
package seed

import (
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
)

// Env is the environment variable that replays a run's seed.
const Env = "ESCALATOR_SYSTEST_SEED"

var (
	once    sync.Once
	runSeed uint64
	runErr  error
)

// Run returns the run's seed: ESCALATOR_SYSTEST_SEED when it is set, else
// one drawn once per test process.
func Run() (uint64, error) {
	once.Do(func() { runSeed, runErr = parse(os.Getenv(Env)) })
	return runSeed, runErr
}

// parse reads a seed from the environment's value, or draws one when it is
// empty (below 10^12, so that people can copy it).
func parse(v string) (uint64, error) {
	if v == "" {
		var b [8]byte
		if _, err := crand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("draw a seed: %w", err)
		}
		return binary.LittleEndian.Uint64(b[:]) % 1_000_000_000_000, nil
	}
	s, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want an unsigned decimal integer", Env, v)
	}
	return s, nil
}

// Line says the run's seed and how to replay it, as tests print it:
// "seed 123 (replay: ESCALATOR_SYSTEST_SEED=123)".
func Line() string {
	s, err := Run()
	if err != nil {
		return err.Error()
	}
	return line(s)
}

func line(s uint64) string { return fmt.Sprintf("seed %d (replay: %s=%d)", s, Env, s) }

// For returns test t's random source, made from the run's seed and t's name,
// so that a test makes the same choices whether it runs alone (go test -run)
// or with the others, in any order. It logs the seed now, and again when t
// fails. The source is not safe for concurrent use: draw from one goroutine.
func For(t testing.TB) *rand.Rand {
	t.Helper()
	s, err := Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d (replay: %s=%d)", s, Env, s)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s failed with %s", t.Name(), line(s))
		}
	})
	return source(s, t.Name())
}

// source is the random source of the test named name in the run of seed s.
func source(s uint64, name string) *rand.Rand {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return rand.New(rand.NewPCG(s, h.Sum64()))
}
