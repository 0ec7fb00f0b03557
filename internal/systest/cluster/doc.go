// Package cluster is escalator's cluster test: three workers (in process,
// app.New) against a 3-node NATS cluster of nats-server processes
// (internal/systest/natscluster), R3 streams and buckets, the node leading
// the timers and then a worker killed under load, and every escalation, step
// and call counted by the ledger of internal/systest/ledger. Which worker
// dies, and when, comes from the run's seed (internal/systest/seed). See
// docs/cluster.md.
package cluster
