// Package faults holds escalator's fault-test suite: a worker killed with
// SIGKILL under load, provider outages, NATS servers restarted under a
// worker, and a backlog of alerts queued while no worker runs. Each scenario
// counts alerts sent, escalations started and completed, calls placed at the
// provider simulators, alerts lost and calls duplicated, and fails when an
// alert is lost or a duplicate call is not explained by an in-doubt step.
//
// The ledger of internal/systest/ledger counts, the same way as the cluster
// test's; calls of workers run in process (app.New) are tagged with their
// step, calls of the binary are not. Random choices come from one seed per
// run (internal/systest/seed), replayed with ESCALATOR_SYSTEST_SEED.
//
// The suite is in the package's tests: `go test ./internal/systest/faults`
// runs the short form, `go test ./internal/systest/faults -faults.long` the
// long one. See docs/faults.md.
package faults
