package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/escalator-oss/escalator/internal/policycmd"
	"github.com/escalator-oss/escalator/internal/providers"
)

const oncallUsage = `Usage: escalator oncall [--policies DIR] [--at RFC3339] [--roster NAME]
                        [--policy NAME] [--next N] [--format text|json]

Says who is on call in each roster, from the policy files alone (no worker
needed): the shared rosters (files whose top-level key is roster:) by name,
then each policy's own roster, named after the policy. For each: who is on
call and from where (an override, a layer, the base rotation), since and
until when, whom a covering layer or override stands in for, what each
rotation has at that moment, and the next hand-offs. Times are in the
roster's time zone and relative to --at ("until Mon 18:00 JST, in 8h").

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

It exits 0, 1 when the files are invalid or no roster matches, 2 on bad
usage.

Examples:
  escalator oncall
  escalator oncall --roster db-primary --at 2026-12-31T23:00:00+09:00
  escalator oncall --policy database --format json

Flags:
`

// oncallCommand runs `escalator oncall`. It returns the exit code.
func oncallCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("oncall", oncallUsage, stderr)
	dir := fs.String("policies", defaultPolicies(), "policy directory or file ($ESCALATOR_POLICIES)")
	at := fs.String("at", "", "the moment to ask about, RFC 3339 (default: now)")
	roster := fs.String("roster", "", "only this roster: a shared roster's name, or a policy's name for its own roster")
	pol := fs.String("policy", "", "only the rosters this policy uses")
	next := fs.Int("next", policycmd.DefaultNext, "how many hand-offs after the current shift to list")
	format := fs.String("format", "text", "output format: text or json")
	fs.Usage = func() {
		fmt.Fprint(stdout, oncallUsage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 || (*format != "text" && *format != "json") || *next < 0 {
		fs.SetOutput(stderr)
		fmt.Fprint(stderr, oncallUsage)
		fs.PrintDefaults()
		return 2
	}
	now := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			fmt.Fprintf(stderr, "escalator oncall: --at must be an RFC 3339 time such as 2026-03-08T09:00:00Z, got %q\n", *at)
			return 2
		}
		now = t
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
	err = policycmd.OnCall(stdout, policycmd.OnCallOptions{Paths: []string{*dir}, At: now, Roster: *roster, Policy: *pol,
		Next: n, Format: *format, Providers: setups.Kinds()})
	switch {
	case errors.Is(err, policycmd.ErrNoRoster):
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "escalator oncall: %v\n", err)
		return 1
	}
	return 0
}
