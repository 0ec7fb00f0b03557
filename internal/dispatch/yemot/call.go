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
// single calls the first person only; rotation runs one campaign per person,
// in order, the step's ring time apart, stopping early when req.Stopped says
// so. Numbers Yemot lists under `errors` are reported in Result.Failed. When
// the step asks for it, a RunTzintuk ping to the same numbers goes first; its
// failure is only logged.
//
// A rotation's Call lasts about (people-1) × ring: the caller's context must
// allow for it.
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
	if v.Tzintuk {
		c.tzintuk(ctx, targets, v.CallerID)
	}
	if req.Strategy == provider.Rotation {
		return c.rotate(ctx, req, v, targets, secs, res)
	}
	for start := 0; start < len(targets); start += MaxPhones {
		chunk := targets[start:min(start+MaxPhones, len(targets))]
		if err := c.campaign(ctx, chunk, v, secs, &res); err != nil {
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

// rotate runs one campaign per target, ring apart.
func (c *Client) rotate(ctx context.Context, req dispatch.Request, v Settings, targets []target, secs int, res dispatch.Result) (dispatch.Result, error) {
	ring := v.Ring
	if ring <= 0 {
		ring = defaultRing
	}
	for i, t := range targets {
		if i > 0 {
			select {
			case <-c.cfg.Clock.After(ring):
			case <-ctx.Done():
				for _, rest := range targets[i:] {
					res.Failed = append(res.Failed, failures(rest, "rotation interrupted: "+ctx.Err().Error())...)
				}
				return finish(res)
			}
			if req.Stopped != nil && req.Stopped() {
				res.Detail = joinDetail(res.Detail, fmt.Sprintf("rotation stopped after %d of %d: escalation stopped", i, len(targets)))
				c.log.Info("rotation stopped", zap.String("escalation", req.EscalationID), zap.Int("called", i), zap.Int("people", len(targets)))
				return finish(res)
			}
		}
		if err := c.campaign(ctx, []target{t}, v, secs, &res); err != nil {
			if len(res.Reached) == 0 {
				return res, err // nothing placed yet: retrying is safe
			}
			res.Failed = append(res.Failed, failures(t, err.Error())...)
		}
	}
	return finish(res)
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
