package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/escalator-oss/escalator/internal/cli"
)

const tailUsage = `Usage: escalator tail [--escalation REF] [--after ID] [--server URL] [--format text|json]

Follows the outcomes live, one line each as they happen: the time, the
escalation's short code, the alert, the event and what it means (whom a
step called and through which provider, who acknowledged and why …).
--escalation REF (an id, a short code or an alert id) keeps one
escalation's. When the connection drops, it reconnects and resumes where it
was (Last-Event-ID): nothing is missed or shown twice. Ctrl-C ends it.

--after ID starts after that event id instead of now (--format json shows
the ids). --format json writes each outcome's JSON as the worker sent it,
one per line, with its event id: {"id": 42, "outcome": {...}}.

Examples:
  escalator tail
  escalator tail --escalation 4821
`

// tailOptions are the knobs tests turn: how long a silent stream is kept
// and the longest wait between reconnections.
var tailOptions = cli.FollowOptions{}

// tailCommand runs `escalator tail` until ctx ends (exit 0) or the worker
// refuses (exit 1).
func tailCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	r := newRemote("tail", tailUsage, stdout, stderr, getenv)
	ref := r.String("escalation", "", "only this escalation's outcomes: an id, a short code or an alert id")
	after := r.String("after", "", "start after this event id instead of now")
	pos, code, ok := r.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return r.badUsage(fmt.Sprintf("tail takes no argument, got %q (--escalation REF follows one)", pos[0]))
	}
	opt := tailOptions
	opt.Escalation = *ref
	if *after != "" {
		n, err := strconv.ParseUint(*after, 10, 64)
		if err != nil {
			return r.badUsage(fmt.Sprintf("--after must be an event id (a number), got %q", *after))
		}
		opt.After = n
	}
	c, code, ok := r.client()
	if !ok {
		return code
	}
	what := "the outcomes"
	if *ref != "" {
		what = "the outcomes of escalation " + *ref
	}
	var mu sync.Mutex // the callbacks and the lines take turns on stderr
	opt.Connected = func(first bool, resumed uint64) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case first:
			fmt.Fprintf(stderr, "Following %s at %s (Ctrl-C ends).\n", what, c.Server())
		case resumed > 0:
			fmt.Fprintf(stderr, "%s: reconnected at %s; resuming after event %d.\n", r.name, time.Now().Format("15:04:05"), resumed)
		default:
			fmt.Fprintf(stderr, "%s: reconnected at %s.\n", r.name, time.Now().Format("15:04:05"))
		}
	}
	opt.Dropped = func(err error) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "%s: %v; reconnecting…\n", r.name, err)
	}
	p := r.printer()
	err := c.Follow(ctx, opt, func(ev cli.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if r.format == "json" {
			_, err := fmt.Fprintf(stdout, "{\"id\":%d,\"outcome\":%s}\n", ev.ID, ev.Data)
			return err
		}
		p.Event(ev.Outcome)
		return nil
	})
	if err != nil {
		return r.fail(refHint(err))
	}
	return 0
}
