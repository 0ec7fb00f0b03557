package yemot_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot/yemotsim"
	"github.com/escalator-oss/escalator/internal/provider"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixture is a simulator, a client of it and the client's logs.
type fixture struct {
	sim  *yemotsim.Server
	c    *yemot.Client
	logs *observer.ObservedLogs
}

// newFixture starts a simulator and a client; edit adjusts the client's
// config (token mode by default).
func newFixture(t *testing.T, edit func(*yemot.Config)) fixture {
	t.Helper()
	return newFixtureWith(t, yemotsim.Config{}, edit)
}

// newFixtureWith is newFixture with the simulator configured by simCfg
// (its account is always 0770000000:s3cret-pw).
func newFixtureWith(t *testing.T, simCfg yemotsim.Config, edit func(*yemot.Config)) fixture {
	t.Helper()
	simCfg.System, simCfg.Password = "0770000000", "s3cret-pw"
	sim := yemotsim.New(simCfg)
	t.Cleanup(sim.Close)
	core, logs := observer.New(zapcore.DebugLevel)
	cfg := yemot.Config{BaseURL: sim.URL(), Token: sim.Token(), Logger: zap.New(core)}
	if edit != nil {
		edit(&cfg)
	}
	c, err := yemot.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return fixture{sim: sim, c: c, logs: logs}
}

// people returns n Israeli mobile numbers named p0, p1, ...
func people(n int) []provider.Person {
	out := make([]provider.Person, n)
	for i := range out {
		out[i] = provider.Person{Name: fmt.Sprintf("p%d", i), Phone: fmt.Sprintf("+97252%07d", 2000000+i)}
	}
	return out
}

// national is p<i>'s number as the client sends it.
func national(i int) string { return fmt.Sprintf("052%07d", 2000000+i) }

func request(strategy provider.Strategy, ps []provider.Person, via yemot.Settings) dispatch.Request {
	return dispatch.Request{EscalationID: "esc-1", Strategy: strategy, People: ps,
		Via: provider.Via{Provider: yemot.Name, Settings: via}}
}

var via = yemot.Settings{IVRPath: "ivr2:/1/100", CallerID: "0770000000", Ring: 20 * time.Second}

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("request body differs from %s:\n got: %s\nwant: %s", path, got, want)
	}
}
