package yemot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
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
	CallsCount int             `json:"callsCount"`
	Errors     json.RawMessage `json:"errors"`
	CampaignID flexString      `json:"campaignId"`
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

// campaign runs one CallExtensionBridging campaign for ts (at most 500) and
// adds its outcome to res.
func (c *Client) campaign(ctx context.Context, ts []target, v Settings, secs int, res *dispatch.Result) error {
	phones := numbers(ts)
	var out campaignAnswer
	err := c.command(ctx, "CallExtensionBridging", func(tok string) any {
		return bridgingBody{Token: tok, Phones: phones, IVRPath: v.IVRPath, CallerID: v.CallerID, CallsTimeOut: secs}
	}, &out)
	if err != nil {
		return fmt.Errorf("run yemot campaign: %w", err)
	}
	rejected := rejections(out.Errors)
	refused := 0
	for _, t := range ts {
		if reason, ok := rejected[t.number]; ok {
			refused++
			res.Failed = append(res.Failed, failures(t, "yemot did not dial "+t.number+": "+c.redact(reason))...)
			delete(rejected, t.number)
			continue
		}
		res.Reached = append(res.Reached, t.people...)
	}
	id := string(out.CampaignID)
	if id != "" {
		res.References = append(res.References, id)
	}
	note := fmt.Sprintf("campaign %s: %d dialled of %d", id, out.CallsCount, len(ts))
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
		zap.Int("calls", out.CallsCount), zap.Int("rejected", refused))
	return nil
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
