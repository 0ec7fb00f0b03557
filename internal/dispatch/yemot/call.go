package yemot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/phone"
	"github.com/escalator-oss/escalator/internal/provider"
)

// target is one number to dial and the people who have it.
type target struct {
	number string
	people []provider.Person
}

// Call places req's calls with CallExtensionBridging. Broadcast is one
// campaign for everyone (split into campaigns of at most 500 numbers);
// single calls the first person only; rotation calls one person at a time,
// each in a campaign of their own (see rotate). Numbers Yemot lists under
// `errors` are reported in Result.Failed; Result.Reached are exactly the
// people whose number entered a campaign. When the step asks for it, a
// RunTzintuk ping goes right before the campaign it announces (in a
// rotation, before each person's own); its failure is only logged.
//
// Yemot cannot stop a campaign's other calls when one answers, nor let the
// person who answers pass it on: policy check refuses stop_on_answer and
// pass_on with Yemot. A request that still carries them (a policy snapshot
// from before that check) is called without them, and the Result's Detail
// says so.
func (c *Client) Call(ctx context.Context, req dispatch.Request) (dispatch.Result, error) {
	res := dispatch.Result{Provider: Name}
	v, err := provider.As[Settings](req.Via)
	if err != nil {
		return res, errors.New("call through yemot: the step has no yemot settings")
	}
	if v.IVRPath == "" {
		return res, errors.New("call through yemot: the step has no ivr_path")
	}
	secs, err := ringSeconds(v.Ring)
	if err != nil {
		return res, fmt.Errorf("call through yemot: %w", err)
	}
	targets, failed := targetsOf(req.People)
	res.Failed = failed
	switch req.Strategy {
	case provider.Single:
		if len(targets) > 1 {
			targets = targets[:1]
		}
	case provider.Broadcast, provider.Rotation:
	default:
		return res, fmt.Errorf("call through yemot: unknown strategy %q", req.Strategy)
	}
	if len(targets) == 0 {
		return res, errors.New("call through yemot: no number that Yemot can dial")
	}
	c.unkept(req, &res)
	if req.Strategy == provider.Rotation && len(targets) > 1 {
		return c.rotate(ctx, req, v, targets, secs, res)
	}
	for start := 0; start < len(targets); start += MaxPhones {
		chunk := targets[start:min(start+MaxPhones, len(targets))]
		if v.Tzintuk {
			c.tzintuk(ctx, chunk, v.CallerID)
		}
		if _, err := c.campaign(ctx, chunk, v, secs, &res); err != nil {
			if len(res.Reached) == 0 {
				return res, err
			}
			// Some campaigns run: report the rest as failed rather than
			// have the whole request retried and the others called twice.
			for _, t := range targets[start:] {
				res.Failed = append(res.Failed, failures(t, err.Error())...)
			}
			break
		}
	}
	return finish(res)
}

// unkept notes in res, and logs, what req asks that Yemot cannot do.
func (c *Client) unkept(req dispatch.Request, res *dispatch.Result) {
	var notes []string
	if req.StopOnAnswer {
		notes = append(notes, "stop_on_answer not honoured: yemot cannot stop other phones ringing when one answers")
	}
	if req.PassOn {
		notes = append(notes, "pass_on not honoured: yemot cannot let the person who answers pass the call on")
	}
	if req.Strategy == provider.Rotation && len(req.People) > 1 && !c.cfg.CheckAnswered {
		notes = append(notes, "without answered detection (YEMOT_CHECK_ANSWERED) the rotation cannot stop when someone answers")
	}
	for _, n := range notes {
		res.Detail = joinDetail(res.Detail, n)
		c.log.Warn(n, zap.String("escalation", req.EscalationID))
	}
}

// finish turns a result that reached nobody into an error, so the fallback
// chain moves on.
func finish(res dispatch.Result) (dispatch.Result, error) {
	if len(res.Reached) > 0 || len(res.Failed) == 0 {
		return res, nil
	}
	reasons := make([]string, 0, len(res.Failed))
	for _, f := range res.Failed {
		reasons = append(reasons, f.Person.Name+": "+f.Reason)
	}
	return res, fmt.Errorf("call through yemot: nobody was dialled: %s", strings.Join(reasons, "; "))
}

// targetsOf formats people's numbers, merging people who share one.
func targetsOf(people []provider.Person) ([]target, []provider.Unreached) {
	var (
		out    []target
		failed []provider.Unreached
		index  = map[string]int{}
	)
	for _, p := range people {
		n, err := phone.Yemot(p.Phone)
		if err != nil {
			failed = append(failed, provider.Unreached{Person: p, Reason: err.Error()})
			continue
		}
		if i, ok := index[n]; ok {
			out[i].people = append(out[i].people, p)
			continue
		}
		index[n] = len(out)
		out = append(out, target{number: n, people: []provider.Person{p}})
	}
	return out, failed
}

func failures(t target, reason string) []provider.Unreached {
	out := make([]provider.Unreached, 0, len(t.people))
	for _, p := range t.people {
		out = append(out, provider.Unreached{Person: p, Reason: reason})
	}
	return out
}

// names are the names of the people of t, e.g. "noa" or "noa and eitan".
func (t target) names() string {
	ns := make([]string, len(t.people))
	for i, p := range t.people {
		ns[i] = p.Name
	}
	if len(ns) < 2 {
		return strings.Join(ns, "")
	}
	return strings.Join(ns[:len(ns)-1], ", ") + " and " + ns[len(ns)-1]
}

func numbers(ts []target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.number
	}
	return out
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
