package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/escalator-oss/escalator/internal/cli"
	"github.com/escalator-oss/escalator/internal/policycmd"
	"github.com/escalator-oss/escalator/internal/providers"
)

const oncallUsage = `Usage: escalator oncall [--server URL | --policies DIR] [--at RFC3339] [--roster NAME]
                        [--policy NAME] [--next N] [--format text|json]

Says who is on call in each roster: by default the worker's, from the
policies it has in force (GET /v1/oncall at --server); with --policies DIR
(or $ESCALATOR_POLICIES) from the policy files alone, no worker needed. The
report is the same either way: the shared rosters (files whose top-level
key is roster:) by name, then each policy's own roster, named after the
policy. For each: who is on call and from where (an override, a layer, the
base rotation), since and until when, whom a covering layer or override
stands in for, what each rotation has at that moment, and the next
hand-offs. Times are in the roster's time zone and relative to --at
("until Mon 18:00 JST, in 8h").

--roster NAME shows one roster (a shared roster, or the own roster of the
policy NAME); --policy NAME the rosters that policy uses.

--format json writes one object:
  {"at": "<RFC 3339>",
   "rosters": [{
     "name": "db-primary",           shared roster's name, or the policy's
     "policy": "database",           only for a policy's own roster
     "file": "policies/roster-db-primary.yaml",
     "description": "...",
     "used_by": ["database"],        policies whose steps use it
     "at": "<RFC 3339>", "time_zone": "Asia/Tokyo",
     "people": ["noa", "ren"],       on call now, in order ([]: nobody)
     "source": "layer",              override | layer | base ("": nobody)
     "layer": "business-hours",      the covering layer
     "since": "<RFC 3339>",          left out: further back than looked
     "until": "<RFC 3339>",          left out: no hand-off ahead
     "covers": {"people": ["aiko"], "source": "base"},   whom it stands in for
     "override": {"person" | "people", "start", "end"},  the override in force
     "rotations": [{"source": "base" | "layer", "layer", "members": [...],
                    "on_call": 1, "handoff": "weekly", "restrict": [...],
                    "people": [...]}],                    base first
     "next": [{"at": "<RFC 3339>", "people": [...], "source", "layer"}]}]}
Times in JSON are absolute (RFC 3339, in the roster's zone).

The worker is reached at --server (default ` + cli.DefaultServer + `, or
$ESCALATOR_SERVER) with --token ($ESCALATOR_TOKEN, $ESCALATOR_TOKEN_FILE).

It exits 0, 1 when the files are invalid, the worker cannot be reached or
no roster matches, 2 on bad usage.

Examples:
  escalator oncall
  escalator oncall --roster db-primary --at 2026-12-31T23:00:00+09:00
  escalator oncall --policy database --format json
  escalator oncall --policies policies/ --at 2026-12-31T23:00:00+09:00

Flags:
`

// oncallCommand runs `escalator oncall`: from the worker's API, or from
// the policy files with --policies (or $ESCALATOR_POLICIES). It returns the
// exit code.
func oncallCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	r := newRemote("oncall", oncallUsage, stdout, stderr, getenv)
	r.fullUsage = true
	dir := r.String("policies", "", "read the rosters from this policy directory or file, not from the worker [$ESCALATOR_POLICIES]")
	at := r.String("at", "", "the moment to ask about, RFC 3339 (default: now)")
	roster := r.String("roster", "", "only this roster: a shared roster's name, or a policy's name for its own roster")
	pol := r.String("policy", "", "only the rosters this policy uses")
	next := r.Int("next", policycmd.DefaultNext, "how many hand-offs after the current shift to list")
	pos, code, ok := r.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 0 || *next < 0 {
		return r.badUsage("")
	}
	if r.given["policies"] && r.given["server"] {
		return r.badUsage("give --server (the worker's rosters) or --policies (the files'), not both")
	}
	when := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			fmt.Fprintf(stderr, "escalator oncall: --at must be an RFC 3339 time such as 2026-03-08T09:00:00Z, got %q\n", *at)
			return 2
		}
		when = t
	}
	if !r.given["policies"] && !r.given["server"] {
		*dir, _ = lookup(getenv, "ESCALATOR_POLICIES")
	}
	if *dir == "" {
		return oncallFromWorker(ctx, r, cli.OnCallQuery{Policy: *pol, Roster: *roster, At: when, Next: *next})
	}
	setups, err := providers.Load(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "escalator oncall: %v\n", err)
		return 2
	}
	n := *next
	if n == 0 {
		n = -1 // none
	}
	err = policycmd.OnCall(stdout, policycmd.OnCallOptions{Paths: []string{*dir}, At: when, Roster: *roster, Policy: *pol,
		Next: n, Format: r.format, Providers: setups.Kinds()})
	switch {
	case errors.Is(err, policycmd.ErrNoRoster):
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "escalator oncall: %v\n", err)
		return 1
	}
	return 0
}

// oncallFromWorker asks the worker who is on call and writes it as the
// files' report is written.
func oncallFromWorker(ctx context.Context, r *remote, q cli.OnCallQuery) int {
	c, code, ok := r.client()
	if !ok {
		return code
	}
	a, raw, err := c.OnCall(ctx, q)
	if err != nil {
		return r.fail(err)
	}
	if r.format == "json" {
		return r.json(raw)
	}
	if len(a.Rosters) == 0 {
		fmt.Fprintln(r.stdout, "no roster is defined")
		return 1
	}
	r.printer().OnCall(a)
	return 0
}
