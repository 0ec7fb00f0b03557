package main

import (
	"context"
	"io"
	"strings"

	"github.com/escalator-oss/escalator/internal/cli"
)

// actUsages are the help texts of ack, resolve and escalate.
var actUsages = map[string]string{
	cli.Ack: `Usage: escalator ack REF [--by NAME] [--comment TEXT] [--server URL] [--format text|json]

Acknowledges an escalation: its further steps stop (under the policy's
ack_timeout, it pages again from step 1 if its alert still fires then). The
outcome acknowledged says by whom, via api, and the comment.
`,
	cli.Resolve: `Usage: escalator resolve REF [--by NAME] [--comment TEXT] [--server URL] [--format text|json]

Resolves an escalation: it ends and its calls stop, whatever its alerts'
senders say (their next firing event starts a new escalation).
`,
	cli.Escalate: `Usage: escalator escalate REF [--by NAME] [--comment TEXT] [--server URL] [--format text|json]

Escalates by hand: the escalation's next step runs now, also when it was
acknowledged or silenced. Past its last step it is exhausted.
`,
}

const actUsageTail = `
REF is the escalation's id, its short code (four digits) or the id of an
alert it covers. A short code several escalations share is refused with
their ids: name one by its id. Acting on an escalation that has ended (or
acknowledging one acknowledged already) is refused with its status.

--format json writes the API's answer: the escalation after it.

Examples:
  escalator ack 4821 --comment "looking"
  escalator resolve db-primary-down --by aiko
  escalator escalate 4821 --comment "need the DBA"
`

// actCommand runs `escalator ack|resolve|escalate` (kind). It returns the
// exit code.
func actCommand(ctx context.Context, kind string, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	r := newRemote(kind, actUsages[kind]+actUsageTail, stdout, stderr, getenv)
	by := r.String("by", "", "who acts (default: your login name)")
	comment := r.String("comment", "", "why, for the record (in the outcome event)")
	pos, code, ok := r.parse(args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return r.badUsage("name one escalation: escalator " + kind + " REF (an id, a short code or an alert id)")
	}
	if strings.TrimSpace(*by) == "" {
		*by = r.whoAmI()
	}
	c, code, ok := r.client()
	if !ok {
		return code
	}
	s, raw, err := c.Act(ctx, pos[0], kind, *by, *comment)
	if err != nil {
		return r.fail(refHint(err))
	}
	if r.format == "json" {
		return r.json(raw)
	}
	r.printer().Acted(kind, *by, s)
	return 0
}
