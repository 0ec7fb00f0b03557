package yemot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
)

// bridgingBody is CallExtensionBridging's JSON body, phones in array form.
type bridgingBody struct {
	Token        string   `json:"token"`
	Phones       []string `json:"phones"`
	IVRPath      string   `json:"ivrPath"`
	CallerID     string   `json:"callerId,omitempty"`
	CallsTimeOut int      `json:"callsTimeOut,omitempty"`
}

// tzintukBody is RunTzintuk's JSON body.
type tzintukBody struct {
	Token    string   `json:"token"`
	Phones   []string `json:"phones"`
	CallerID string   `json:"callerId,omitempty"`
}

// campaignAnswer is the part of CallExtensionBridging's answer the client uses.
type campaignAnswer struct {
	CallsCount optInt          `json:"callsCount"`
	Errors     json.RawMessage `json:"errors"`
	CampaignID flexString      `json:"campaignId"`
}

// optInt decodes a JSON number or a numeric string (the manual says int;
// PHP may send either). ok is false when it is absent, null, or not a
// number: the campaign ran, and what cannot be read is not held against it.
type optInt struct {
	n  int
	ok bool
}

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (o *optInt) UnmarshalJSON(b []byte) error {
	var s flexString
	if s.UnmarshalJSON(b) != nil {
		return nil
	}
	if n, err := strconv.ParseFloat(strings.TrimSpace(string(s)), 64); err == nil {
		*o = optInt{n: int(n), ok: true}
	}
	return nil
}

// flexString decodes a JSON string or number as a string.
type flexString string

// UnmarshalJSON accepts a string, a number or null.
func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if string(b) == "null" {
		*f = ""
		return nil
	}
	*f = flexString(b)
	return nil
}

// campaign runs one CallExtensionBridging campaign for ts (at most 500),
// adds its outcome to res, and returns its id. Reached are the people whose
// number entered the campaign: not named under `errors`, and not in a
// campaign whose answer counts no call at all (callsCount 0).
func (c *Client) campaign(ctx context.Context, ts []target, v Settings, secs int, res *dispatch.Result) (string, error) {
	phones := numbers(ts)
	var out campaignAnswer
	err := c.command(ctx, "CallExtensionBridging", func(tok string) any {
		return bridgingBody{Token: tok, Phones: phones, IVRPath: v.IVRPath, CallerID: v.CallerID, CallsTimeOut: secs}
	}, &out)
	if err != nil {
		return "", fmt.Errorf("run yemot campaign: %w", err)
	}
	id := string(out.CampaignID)
	rejected := rejections(out.Errors)
	var dialled []target
	for _, t := range ts {
		if reason, ok := rejected[t.number]; ok {
			res.Failed = append(res.Failed, failures(t, "yemot did not dial "+t.number+": "+c.redact(reason))...)
			delete(rejected, t.number)
			continue
		}
		dialled = append(dialled, t)
	}
	if out.CallsCount.ok && out.CallsCount.n == 0 && len(dialled) > 0 {
		// callsCount is "the numbers that entered the campaign": none did,
		// though Yemot named no error for them.
		for _, t := range dialled {
			res.Failed = append(res.Failed, failures(t, fmt.Sprintf("yemot did not dial %s: campaign %s counts no call", t.number, id))...)
		}
		dialled = nil
	}
	for _, t := range dialled {
		res.Reached = append(res.Reached, t.people...)
	}
	if id != "" {
		res.References = append(res.References, id)
	}
	count := "?"
	if out.CallsCount.ok {
		count = strconv.Itoa(out.CallsCount.n)
	}
	note := fmt.Sprintf("campaign %s: %s dialled of %d", id, count, len(ts))
	if len(rejected) > 0 {
		// Yemot named numbers we did not send (it may normalise them).
		others := make([]string, 0, len(rejected))
		for n, r := range rejected {
			others = append(others, n+": "+r)
		}
		sort.Strings(others)
		note += "; other errors: " + c.redact(strings.Join(others, ", "))
	}
	res.Detail = joinDetail(res.Detail, note)
	c.log.Info("campaign started", zap.String("campaign", id), zap.Int("numbers", len(ts)),
		zap.String("calls", count), zap.Int("dialled", len(dialled)))
	return id, nil
}

// rejections reads the `errors` field: an object number → reason, or (as PHP
// encodes an empty one) an array.
func rejections(raw json.RawMessage) map[string]string {
	out := map[string]string{}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		var list []string
		if json.Unmarshal(raw, &list) == nil {
			for _, n := range list {
				out[n] = "rejected"
			}
		}
		return out
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) == nil {
		for n, r := range m {
			out[n] = fmt.Sprint(r)
		}
	}
	return out
}

// tzintuk sends a RunTzintuk ping to ts, at most 500 numbers a request. A
// failure is logged, never returned: the ping is a courtesy.
func (c *Client) tzintuk(ctx context.Context, ts []target, callerID string) {
	for start := 0; start < len(ts); start += MaxPhones {
		phones := numbers(ts[start:min(start+MaxPhones, len(ts))])
		err := c.command(ctx, "RunTzintuk", func(tok string) any {
			return tzintukBody{Token: tok, Phones: phones, CallerID: callerID}
		}, nil)
		if err != nil {
			c.log.Warn("tzintuk failed; calling anyway", zap.Int("numbers", len(phones)), zap.Error(err))
		}
	}
}
