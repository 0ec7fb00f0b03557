// Command escalator turns alerts into phone calls until a human acknowledges.
// See `escalator --help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/escalator-oss/escalator/internal/app"
	"github.com/escalator-oss/escalator/internal/demo"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		// The first signal starts a graceful shutdown; restoring the default
		// handling makes a second one end the process at once.
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and returns the exit code. getenv nil means
// the process environment.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if getenv == nil {
		getenv = os.Getenv
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runCommand(ctx, args[1:], stdout, stderr, getenv)
	case "demo":
		return demoCommand(ctx, args[1:], stdout, stderr)
	case "policy":
		return policyCommand(ctx, args[1:], stdout, stderr)
	case "oncall":
		return oncallCommand(ctx, args[1:], stdout, stderr, getenv)
	case "ls":
		return lsCommand(ctx, args[1:], stdout, stderr, getenv)
	case "show":
		return showCommand(ctx, args[1:], stdout, stderr, getenv)
	case "ack", "resolve", "escalate":
		return actCommand(ctx, args[0], args[1:], stdout, stderr, getenv)
	case "silence":
		return silenceCommand(ctx, args[1:], stdout, stderr, getenv)
	case "tail":
		return tailCommand(ctx, args[1:], stdout, stderr, getenv)
	case "bench":
		return benchCommand(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "escalator", versionString())
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "escalator: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

const demoHelp = `Usage: escalator demo [--timeout 1m] [--verbose]

Runs the worker on an embedded NATS server in a temporary directory, with
IoTCall, Yemot and CCAI simulated on loopback and demo policies built in,
publishes a few sample alerts and prints what happens: the matched policy,
each call and the numbers rung, an IoTCall outage falling back to Yemot, a
rotation, an acknowledgement, an acknowledgement texted back, a resolution.
No real call is placed. It exits 0 when the scenario completed, 1 otherwise.

Flags:
`

// demoCommand runs `escalator demo`.
func demoCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", demo.DefaultTimeout, "give up (exit 1) when the scenario takes longer")
	verbose := fs.Bool("verbose", false, "also print the worker's logs (to stderr)")
	fs.Usage = func() {
		fmt.Fprint(stdout, demoHelp)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	opts := demo.Options{Out: stdout, Timeout: *timeout}
	if *verbose {
		log, err := app.NewLogger("console", "info")
		if err != nil {
			fmt.Fprintf(stderr, "escalator demo: %v\n", err)
			return 2
		}
		opts.Logger = log
	}
	if err := demo.Run(ctx, opts); err != nil {
		fmt.Fprintf(stderr, "escalator demo: %v\n", err)
		return 1
	}
	return 0
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

const usage = `escalator — makes sure a human picks up the phone when an alert fires.

It takes alert events from NATS JetStream (and HTTP webhooks: Alertmanager,
Grafana, PagerDuty Events v2), finds the on-call policy that matches, and
calls people through IoTCall, Yemot or CCAI Platform — one, all at once, or
one after another — escalating step by step until someone acknowledges.

Usage:
  escalator <command> [flags]

Commands:
  demo              see it work: sample alerts through the real worker and simulated providers
  run               run the worker (embeds NATS unless --nats-url is given)
  policy check      validate policy files and explain every problem
  policy simulate   show who would be called, how and when, for an alert
  bench             measure throughput, latency, memory and recovery against raw JetStream
  version           print the version

Commands for people on call, talking to a running worker's HTTP API:
  ls                list the escalations, newest first (active ones by default)
  show              one escalation: where it stands and its timeline
  ack               acknowledge an escalation: its further steps stop
  resolve           end an escalation and its calls
  escalate          run an escalation's next step now
  oncall            show who is on call in each roster, from which layer, until when
                    (the worker's, or with --policies DIR from the files alone)
  silence           add, list (ls) or expire (rm) silences
  tail              follow the outcomes live, one line each

They reach the worker at --server (default http://127.0.0.1:8080, or
$ESCALATOR_SERVER) with its token in $ESCALATOR_TOKEN (or the file named by
$ESCALATOR_TOKEN_FILE, or --token), and print for people, or with
--format json the API's JSON for scripts. An escalation is named by its
short code (4821), its id or an alert id.

Run "escalator <command> --help" for a command's flags.
`
