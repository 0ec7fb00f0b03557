// Package deploy holds what an operator needs to run escalator — a systemd
// unit and its environment file, Kubernetes manifests with the NATS Helm
// chart's values, and a Dockerfile — and the tests that keep them in step
// with the program: every manifest parses, every variable they set is one
// the program reads, the probes hit the real endpoints, the policies
// shipped in the ConfigMap are the ones in policies/, and every metric the
// program registers is explained in docs/operations.md.
//
// It contains no code that the program uses.
package deploy
