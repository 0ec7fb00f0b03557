package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/policycmd"
	"github.com/escalator-oss/escalator/internal/providers"
)

const policyUsage = `Usage: escalator policy <command> [flags]

On-call policies are YAML files (see policies/README.md). These commands read
them without calling anyone.

Commands:
  check [--strict] [PATH...]
      Validate policy files or directories (default: $ESCALATOR_POLICIES, or
      policies/), heartbeat monitors, people files and shared rosters
      included, and every name one file uses from another (people, rosters).
      Prints every problem as file:line:column: path: reason and exits 1, or
      one summary line per policy, heartbeat monitor, people file and roster
      (with who is on call in it now) and exits 0. --strict also refuses
      steps that use a provider this machine has no credentials for.

  simulate --alert alert.json [--at RFC3339] [--acked-after 7m]
           [--format text|json] [--policies DIR]
      Show which policy takes an alert at that time and why (active_time,
      priority), whether a maintenance window keeps it quiet and until when,
      then every step with its time offset, who is on call in its roster
      (which layer or override covers whom), the people called in order
      (for round_robin, the candidates), each provider in the fallback
      chain with the exact numbers it would receive (further numbers
      after the first), and where it stops (with an ack_timeout, when it
      would page again).

  Who is on call in each roster, now or at any time: escalator oncall.

Examples:
  escalator policy check
  escalator policy check --strict policies/database.yaml
  escalator policy simulate --alert alert.json --acked-after 7m
`

// policyCommand runs `escalator policy <check|simulate> ...`. It returns the
// process exit code: 0 ok, 1 invalid policies or no match, 2 bad usage.
func policyCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return 2
	}
	switch args[0] {
	case "check":
		return policyCheck(args[1:], stdout, stderr)
	case "simulate":
		return policySimulate(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, policyUsage)
		return 0
	}
	fmt.Fprintf(stderr, "escalator policy: unknown command %q\n\n%s", args[0], policyUsage)
	return 2
}

func defaultPolicies() string {
	if p := os.Getenv("ESCALATOR_POLICIES"); p != "" {
		return p
	}
	return "policies"
}

func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

func policyCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("policy check", "Usage: escalator policy check [--strict] [PATH...]\n\n", stderr)
	strict := fs.Bool("strict", false, "also refuse steps whose provider is not configured (credentials in the environment)")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{defaultPolicies()}
	}
	setups, err := providers.Load(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "escalator policy check: %v\n", err)
		return 2
	}
	err = policycmd.Check(stdout, policycmd.CheckOptions{Paths: paths, Strict: *strict, Configured: setups.Configured(),
		Providers: setups.Kinds()})
	switch {
	case errors.Is(err, policycmd.ErrInvalid):
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "escalator policy check: %v\n", err)
		return 1
	}
	return 0
}

func policySimulate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("policy simulate", "Usage: escalator policy simulate --alert alert.json [flags]\n\n", stderr)
	alertPath := fs.String("alert", "", "alert event JSON file, as published to alerts.<source> (required; - reads stdin)")
	at := fs.String("at", "", "when the alert fires, RFC 3339 (default: the alert's \"at\", else now)")
	acked := fs.Duration("acked-after", 0, "acknowledge this long after the first step, e.g. 7m (default: nobody acknowledges)")
	format := fs.String("format", "text", "output format: text or json")
	dir := fs.String("policies", defaultPolicies(), "policy directory or file ($ESCALATOR_POLICIES)")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if *alertPath == "" || fs.NArg() > 0 || (*format != "text" && *format != "json") || *acked < 0 {
		fs.Usage()
		return 2
	}
	ev, err := readAlert(*alertPath)
	if err != nil {
		fmt.Fprintf(stderr, "escalator policy simulate: %v\n", err)
		return 1
	}
	start := time.Now().UTC()
	if !ev.At.IsZero() {
		start = ev.At
	}
	if *at != "" {
		if start, err = time.Parse(time.RFC3339, *at); err != nil {
			fmt.Fprintf(stderr, "escalator policy simulate: --at must be an RFC 3339 time such as 2026-03-08T09:00:00Z, got %q\n", *at)
			return 2
		}
	}
	setups, err := providers.Load(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "escalator policy simulate: %v\n", err)
		return 2
	}
	err = policycmd.Simulate(stdout, policycmd.SimulateOptions{Paths: []string{*dir}, Alert: ev, At: start,
		AckedAfter: *acked, Format: *format, Providers: setups.Kinds()})
	if err != nil {
		if !errors.Is(err, policycmd.ErrNoMatch) {
			fmt.Fprintf(stderr, "escalator policy simulate: %v\n", err)
		}
		return 1
	}
	return 0
}

func readAlert(path string) (alert.Event, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return alert.Event{}, fmt.Errorf("read alert: %w", err)
	}
	ev, err := alert.Decode(data, 0)
	if err != nil {
		return alert.Event{}, fmt.Errorf("decode alert %s: %w", path, err)
	}
	return ev, nil
}

func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
