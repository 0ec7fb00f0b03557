package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/escalator-oss/escalator/internal/cli"
)

const showUsage = `Usage: escalator show REF [--server URL] [--format text|json]

Shows one escalation: where it stands (status, policy, alerts, step, who
was called last), then its timeline, every outcome with its offset from
the first, read like policy simulate's. REF is the escalation's id, its
short code (the four digits escalator ls and the calls give), or the id
of an alert it covers.

--format json writes the API's answer: {"id", "escalation", "calls",
"timeline"}.

Examples:
  escalator show 4821
  escalator show db-primary-down
  escalator show 1a9b12aab46782f23b983bbd-1 --format json
`

// showCommand runs `escalator show`. It returns the exit code.
func showCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	r := newRemote("show", showUsage, stdout, stderr, getenv)
	pos, code, ok := r.parse(args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return r.badUsage("name one escalation: escalator show REF (an id, a short code or an alert id)")
	}
	c, code, ok := r.client()
	if !ok {
		return code
	}
	d, raw, err := c.Show(ctx, pos[0])
	if err != nil {
		return r.fail(refHint(err))
	}
	if r.format == "json" {
		return r.json(raw)
	}
	r.printer().Detail(d)
	return 0
}

// refHint adds to a 404 for an escalation where to find the right one.
func refHint(err error) error {
	var nf *cli.NotFoundError
	if errors.As(err, &nf) {
		return fmt.Errorf("%w; escalator ls --all lists them", err)
	}
	return err
}
