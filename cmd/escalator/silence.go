package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/escalator-oss/escalator/internal/cli"
	"github.com/escalator-oss/escalator/internal/silence"
)

const silenceUsage = `Usage: escalator silence <add|ls|rm> [flags]

A silence keeps matching alerts quiet for a while without touching the
policy files (README "Silences").

Commands:
  add [label=value | label=~regex]... [--match label=value]... [--match-regex label=regex]...
      (--for 2h | --until TIME) [--starts TIME] [--by NAME] [--comment TEXT]
      Make a silence; it prints its id. Matchers are exact label values or
      anchored regular expressions ("severity" matches the alert's
      severity); at least one is required.
  ls [--all]
      The pending and active silences, newest first; --all adds the expired
      ones the worker keeps.
  rm ID...
      Expire silences now: the escalations they kept quiet escalate from
      step 1 if their alerts still fire.

Examples:
  escalator silence add --match team=db --match-regex 'service=db-.*' --for 2h --comment "CHG-1234"
  escalator silence add team=db --starts 2026-11-30T02:00:00+09:00 --until 2026-11-30T04:00:00+09:00
  escalator silence ls
  escalator silence rm 3f2c9a1e
`

// silenceCommand runs `escalator silence add|ls|rm`. It returns the exit
// code.
func silenceCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, silenceUsage)
		return 2
	}
	switch args[0] {
	case "add":
		return silenceAdd(ctx, args[1:], stdout, stderr, getenv)
	case "ls", "list":
		return silenceList(ctx, args[1:], stdout, stderr, getenv)
	case "rm", "expire":
		return silenceRemove(ctx, args[1:], stdout, stderr, getenv)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, silenceUsage)
		return 0
	}
	fmt.Fprintf(stderr, "escalator silence: unknown command %q\n\n%s", args[0], silenceUsage)
	return 2
}

// matchers is a repeated flag of label=value pairs.
type matchers map[string]string

func (m matchers) String() string { return "" }

func (m matchers) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want label=value, got %q", s)
	}
	m[strings.TrimSpace(k)] = v
	return nil
}

const silenceAddUsage = `Usage: escalator silence add [label=value | label=~regex]...
                             [--match label=value]... [--match-regex label=regex]...
                             (--for 2h | --until TIME) [--starts TIME]
                             [--by NAME] [--comment TEXT] [--server URL] [--format text|json]

Makes a silence: alerts whose labels match every matcher are kept quiet
from --starts (default now) until --until, or for --for. TIME is RFC 3339
(2026-11-30T02:00:00+09:00). It prints the silence's id (escalator silence
rm ID ends it early) and how many running escalations it quietened at once.
--format json writes the API's answer.
`

func silenceAdd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	r := newRemote("silence add", silenceAddUsage, stdout, stderr, getenv)
	eq, re := matchers{}, matchers{}
	r.Var(eq, "match", "label=value: the label must have this value (repeat for more)")
	r.Var(re, "match-regex", "label=regex: the label must match this anchored regular expression (repeat for more)")
	dur := r.Duration("for", 0, "how long, e.g. 2h (or --until)")
	until := r.String("until", "", "when it ends, RFC 3339 (or --for)")
	starts := r.String("starts", "", "when it starts, RFC 3339 (default: now)")
	by := r.String("by", "", "who makes it (default: your login name)")
	comment := r.String("comment", "", "why: a change ticket, what is going on")
	pos, code, ok := r.parse(args)
	if !ok {
		return code
	}
	for _, p := range pos {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return r.badUsage(fmt.Sprintf("a matcher is label=value or label=~regex, got %q", p))
		}
		if rx, isRe := strings.CutPrefix(v, "~"); isRe {
			re[k] = rx
		} else {
			eq[k] = v
		}
	}
	req := silence.Request{Comment: *comment, By: strings.TrimSpace(*by)}
	if len(eq) > 0 {
		req.Matchers = eq
	}
	if len(re) > 0 {
		req.MatchersRegex = re
	}
	switch {
	case len(eq)+len(re) == 0:
		return r.badUsage("say which alerts: at least one matcher (--match team=db, --match-regex 'service=db-.*' or team=db)")
	case *dur != 0 && *until != "":
		return r.badUsage("give --for or --until, not both")
	case *dur == 0 && *until == "":
		return r.badUsage("say how long: --for 2h or --until TIME")
	case *dur < 0:
		return r.badUsage(fmt.Sprintf("--for must be positive, got %s", *dur))
	}
	for _, t := range []struct{ flag, v string }{{"--until", *until}, {"--starts", *starts}} {
		if t.v == "" {
			continue
		}
		if _, err := time.Parse(time.RFC3339, t.v); err != nil {
			return r.badUsage(fmt.Sprintf("%s must be an RFC 3339 time such as 2026-11-30T02:00:00+09:00, got %q", t.flag, t.v))
		}
	}
	req.StartsAt, req.EndsAt = *starts, *until
	if *dur > 0 {
		req.Duration = dur.String()
	}
	if req.By == "" {
		req.By = r.whoAmI()
	}
	c, code, ok := r.client()
	if !ok {
		return code
	}
	a, raw, err := c.CreateSilence(ctx, req)
	if err != nil {
		return r.fail(silenceFieldHint(err))
	}
	if r.format == "json" {
		return r.json(raw)
	}
	r.printer().SilenceMade(a)
	return 0
}

// silenceFieldHint names the flag of a field the worker refused.
func silenceFieldHint(err error) error {
	var br *cli.BadRequestError
	if !errors.As(err, &br) || br.Field == "" {
		return err
	}
	field, key, _ := strings.Cut(br.Field, ".")
	flag := map[string]string{"matchers": "--match", "matchers_regex": "--match-regex", "starts_at": "--starts",
		"ends_at": "--until/--for", "duration": "--for", "by": "--by", "comment": "--comment"}[field]
	if flag == "" {
		return err
	}
	if key != "" {
		flag += " " + key
	}
	msg := br.Msg
	if _, after, ok := strings.Cut(msg, br.Field+": "); ok {
		msg = after
	}
	msg = strings.NewReplacer("after starts_at", "after the start (--starts, default now)", "give ends_at or duration", "give --until or --for").Replace(msg)
	return fmt.Errorf("%s: %s", flag, msg)
}

const silenceListUsage = `Usage: escalator silence ls [--all] [--server URL] [--format text|json]

Lists the silences, newest first: pending and active ones, with --all the
expired ones the worker keeps too (30 days after they end). Columns: ID,
STATUS, MATCHERS, STARTS, ENDS, BY, COMMENT. --format json writes the
API's {"silences": [...]}, the expired ones left out without --all.
`

func silenceList(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	r := newRemote("silence ls", silenceListUsage, stdout, stderr, getenv)
	all := r.Bool("all", false, "include the expired silences")
	pos, code, ok := r.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return r.badUsage(fmt.Sprintf("silence ls takes no argument, got %q", pos[0]))
	}
	c, code, ok := r.client()
	if !ok {
		return code
	}
	list, raw, err := c.Silences(ctx)
	if err != nil {
		return r.fail(err)
	}
	if r.format == "json" {
		if !*all {
			if raw, err = withoutExpired(raw); err != nil {
				return r.fail(err)
			}
		}
		return r.json(raw)
	}
	what := "silences"
	if !*all {
		var kept []silence.View
		for _, v := range list {
			if v.Status != silence.Expired {
				kept = append(kept, v)
			}
		}
		list, what = kept, "pending or active silences (--all shows the expired ones)"
	}
	r.printer().Silences(list, what)
	return 0
}

// withoutExpired drops the expired silences from the API's list, keeping
// each other one's JSON as it came.
func withoutExpired(raw []byte) ([]byte, error) {
	var page map[string]json.RawMessage
	if err := json.Unmarshal(raw, &page); err != nil {
		return nil, fmt.Errorf("the worker's silences are not JSON: %w", err)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(page["silences"], &list); err != nil {
		return nil, fmt.Errorf("the worker's silences are not a list: %w", err)
	}
	kept := []json.RawMessage{}
	for _, s := range list {
		var v struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(s, &v) == nil && v.Status != silence.Expired {
			kept = append(kept, s)
		}
	}
	page["silences"], _ = json.Marshal(kept)
	return json.Marshal(page)
}

const silenceRemoveUsage = `Usage: escalator silence rm ID... [--server URL] [--format text|json]

Expires silences now. The escalations a silence kept quiet escalate from
step 1 if their alerts still fire. --format json writes the API's answer
for each, one per line.
`

func silenceRemove(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	r := newRemote("silence rm", silenceRemoveUsage, stdout, stderr, getenv)
	ids, code, ok := r.parse(args)
	if !ok {
		return code
	}
	if len(ids) == 0 {
		return r.badUsage("name the silences to expire: escalator silence rm ID (escalator silence ls lists them)")
	}
	c, code, ok := r.client()
	if !ok {
		return code
	}
	exit := 0
	for _, id := range ids {
		a, raw, err := c.ExpireSilence(ctx, id)
		var nf *cli.NotFoundError
		switch {
		case errors.As(err, &nf):
			exit = r.fail(fmt.Errorf("%w; escalator silence ls --all lists them", err))
			continue
		case err != nil:
			return r.fail(err)
		case r.format == "json":
			fmt.Fprintln(stdout, strings.TrimSpace(string(raw)))
		default:
			r.printer().SilenceExpired(a)
		}
	}
	return exit
}
