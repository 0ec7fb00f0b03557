package main

import (
	"context"
	"fmt"
	"io"

	"github.com/escalator-oss/escalator/internal/cli"
)

const lsUsage = `Usage: escalator ls [--all | --status S] [--policy P] [--limit N] [--cursor C]
                    [--server URL] [--format text|json]

Lists the worker's escalations, newest first: by default the active ones
(calling people, or silenced until a silence or maintenance window ends).
--status acknowledged, ended (resolved or exhausted) or all; --all is
--status all.

Columns: CODE, the four digits to name it by (escalator ack 4821); STATUS;
POLICY; ALERT (+N: more alerts grouped into it); STEP; STARTED; NOW, what
comes next (the next step, the end of a quiet, who acknowledged); LAST
CALLED; ID, its full id (for a short code several escalations share).
At most --limit rows (default 50, at most 500); when there are more, stderr
says how to ask for the next page.

--format json writes the API's page: {"escalations": [...], "next_cursor"}.

Examples:
  escalator ls
  escalator ls --all --policy database
  escalator ls --status ended --format json
`

// lsCommand runs `escalator ls`. It returns the exit code.
func lsCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	r := newRemote("ls", lsUsage, stdout, stderr, getenv)
	all := r.Bool("all", false, "every escalation the worker keeps (--status all)")
	status := r.String("status", "", "active (default), acknowledged, ended or all")
	pol := r.String("policy", "", "only the escalations of this policy")
	limit := r.Int("limit", 0, "at most this many rows (default 50, at most 500)")
	cursor := r.String("cursor", "", "the page after this cursor (a page's next_cursor)")
	pos, code, ok := r.parse(args)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 0:
		return r.badUsage(fmt.Sprintf("ls takes no argument, got %q", pos[0]))
	case *all && *status != "" && *status != "all":
		return r.badUsage("give --all or --status, not both")
	case !contains([]string{"", "active", "acknowledged", "ended", "all"}, *status):
		return r.badUsage(fmt.Sprintf("--status must be active, acknowledged, ended or all, got %q", *status))
	case *limit < 0 || *limit > 500:
		return r.badUsage(fmt.Sprintf("--limit must be 1 to 500, got %d", *limit))
	}
	if *all {
		*status = "all"
	}
	c, code, ok := r.client()
	if !ok {
		return code
	}
	page, raw, err := c.List(ctx, cli.ListQuery{Status: *status, Policy: *pol, Limit: *limit, Cursor: *cursor})
	if err != nil {
		return r.fail(err)
	}
	if r.format == "json" {
		return r.json(raw)
	}
	what := map[string]string{"": "active escalations", "active": "active escalations", "acknowledged": "acknowledged escalations",
		"ended": "ended escalations", "all": "escalations"}[*status]
	if *pol != "" {
		what += " of policy " + *pol
	}
	r.printer().Escalations(page, what)
	if page.NextCursor != "" {
		fmt.Fprintf(stderr, "More, older ones: escalator ls %s--cursor %s\n", pageArgs(*status, *pol, *limit), page.NextCursor)
	}
	return 0
}

// pageArgs repeats a listing's filters for the next page's command line.
func pageArgs(status, pol string, limit int) string {
	s := ""
	if status != "" {
		s += "--status " + status + " "
	}
	if pol != "" {
		s += "--policy " + pol + " "
	}
	if limit > 0 {
		s += fmt.Sprintf("--limit %d ", limit)
	}
	return s
}
