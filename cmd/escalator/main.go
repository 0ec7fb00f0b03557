// Command escalator turns alerts into phone calls until a human acknowledges.
// See `escalator --help`.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
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
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runCommand(ctx, args[1:], stdout, stderr, getenv)
	case "policy":
		return policyCommand(ctx, args[1:], stdout, stderr)
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
  run               run the worker (embeds NATS unless --nats-url is given)
  policy check      validate policy files and explain every problem
  policy simulate   show who would be called, how and when, for an alert
  version           print the version

Run "escalator <command> --help" for a command's flags.
`
