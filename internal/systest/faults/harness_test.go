package faults

import (
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/systest/ledger"
	"github.com/escalator-oss/escalator/internal/systest/seed"
)

var long = flag.Bool("faults.long", false, "run the long form of the fault suite (more alerts, more kills, a minute of IoTCall 5xx; ~10 min)")

// pick returns the short or the long form's value.
func pick[T any](short, lng T) T {
	if *long {
		return lng
	}
	return short
}

// policiesDir holds the suite's policies: one step, a wait of 1-3 s, no
// repeat, so that every escalation ends (exhausted) quickly. No group_by:
// each alert id gets its own escalation.
var policiesDir = func() string {
	d, err := filepath.Abs(filepath.Join("testdata", "policies"))
	if err != nil {
		panic(err)
	}
	return d
}()

// Fake credentials of the simulated accounts (never printed).
const (
	iotcallAuth = "faults-iotcall-auth"
	ccaiKey     = "faults-ccai-key"
	ccaiSecret  = "faults-ccai-secret"
)

// figures are one scenario's counts, printed as a FAULTS JSON line. The
// ledger (internal/systest/ledger) counts them; the names are the suite's
// since its first runs (docs/faults.md).
type figures struct {
	Scenario             string `json:"scenario"`
	AlertsSent           int    `json:"alerts_sent"`
	EscalationsStarted   int    `json:"escalations_started"`
	EscalationsCompleted int    `json:"escalations_completed"`
	Exhausted            int    `json:"exhausted"`
	DispatchFailed       int    `json:"dispatch_failed"`
	StepsDispatched      int    `json:"steps_dispatched"`
	CallsPlaced          int    `json:"calls_placed"`
	CallsIoTCall         int    `json:"calls_iotcall"`
	CallsYemot           int    `json:"calls_yemot"`
	CallsCCAI            int    `json:"calls_ccai"`
	Lost                 int    `json:"lost"`
	StartedTwice         int    `json:"started_twice"`
	Duplicated           int    `json:"duplicated"`
	InDoubt              int    `json:"in_doubt"`
	Unexplained          int    `json:"unexplained"`
	Silent               int    `json:"silent"`
	StartedMissing       int    `json:"started_missing"`
	Unattributed         int    `json:"unattributed"`
	Kills                int    `json:"kills,omitempty"`
	Restarts             int    `json:"restarts,omitempty"`
	ProviderRefused      int64  `json:"provider_requests_refused,omitempty"`
	// TakeoverSeconds: from a worker's death in the middle of a step to the
	// step's call reaching the provider from another worker.
	TakeoverSeconds float64 `json:"takeover_seconds,omitempty"`
	Seconds         float64 `json:"seconds"`
}

// settle waits for every alert sent to reach a final outcome (or the
// deadline), has the ledger count, logs the figures (t.Logf and one FAULTS
// JSON line) and fails the test with every problem the ledger found: an
// alert lost, started twice or silent, a step dispatched twice, a call no
// in-doubt re-run explains.
func settle(t *testing.T, name string, js jetstream.JetStream, s *sims, sent []string, deadline time.Duration, start time.Time, f figures) figures {
	t.Helper()
	o := ledger.ReadOutcomes(t, js)
	pending := o.WaitFinal(sent, deadline)
	if len(pending) == 0 {
		o.WaitCaughtUp(t, 30*time.Second)
	}
	var progress string
	if len(pending) > 0 {
		progress = o.Progress()
	}
	o.Stop()
	rep := ledger.Count(ledger.Run{Alerts: sent, Outcomes: o.All(), Calls: s.rec.Calls(), Tagged: s.tagged,
		AtSimulators: s.atSimulators(), Steps: 1})

	f.Scenario, f.AlertsSent = name, rep.Alerts
	f.EscalationsStarted, f.EscalationsCompleted = rep.Started, rep.Completed
	f.Exhausted, f.DispatchFailed = rep.Events[outcome.Exhausted], rep.Events[outcome.DispatchFailed]
	f.StepsDispatched = rep.StepsDispatched
	f.CallsPlaced = rep.Calls
	f.CallsIoTCall, f.CallsYemot, f.CallsCCAI = rep.CallsBy[ledger.IoTCall], rep.CallsBy[ledger.Yemot], rep.CallsBy[ledger.CCAI]
	f.Lost, f.StartedTwice, f.StartedMissing, f.Silent = rep.AlertsLost, rep.StartedTwice, rep.StartedMissing, rep.Silent
	f.Duplicated, f.InDoubt, f.Unexplained, f.Unattributed = rep.ExtraCalls, rep.InDoubt, rep.Unexplained, rep.Unattributed
	f.Seconds = time.Since(start).Round(100 * time.Millisecond).Seconds()
	f.ProviderRefused = s.refused()

	line, _ := json.Marshal(f)
	t.Logf("%s: sent %d, started %d, completed %d (exhausted %d), steps dispatched %d, calls placed %d "+
		"(iotcall %d, yemot %d, ccai %d), dispatch_failed %d, silent %d, lost %d, duplicated %d, in doubt %d",
		name, f.AlertsSent, f.EscalationsStarted, f.EscalationsCompleted, f.Exhausted, f.StepsDispatched,
		f.CallsPlaced, f.CallsIoTCall, f.CallsYemot, f.CallsCCAI, f.DispatchFailed, f.Silent, f.Lost, f.Duplicated, f.InDoubt)
	t.Logf("%s: ledger (calls tagged with their step: %t): %s", name, s.tagged, rep.Summary())
	for _, why := range slices.Sorted(maps.Keys(rep.Failures)) {
		t.Logf("%s: dispatch_failed ×%d: %s", name, rep.Failures[why], why)
	}
	t.Logf("FAULTS %s", line)
	fmt.Printf("FAULTS %s\n", line)
	if len(pending) > 0 {
		sort.Strings(pending)
		t.Errorf("%s: %d alerts with no final outcome after %s, e.g. %v (%s)", name, len(pending), deadline, pending[:min(len(pending), 10)], progress)
		for _, id := range pending[:min(len(pending), 10)] {
			t.Logf("  %s: record in the bucket: %s", id, ledger.Record(js, id))
		}
	}
	for _, u := range o.Undecodable() {
		t.Errorf("%s: an outcome that is not outcome JSON: %s", name, u)
	}
	rep.Fail(t, name, seed.Line())
	return f
}
