package ccai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/escalator-oss/escalator/internal/dispatch"
)

// managerCallsPath is the Manager API's call list (page/per, newest first).
const managerCallsPath = "/manager/api/v1/calls"

// perPage and maxPages bound one Answered's reading of the call list.
const (
	perPage  = 100
	maxPages = 5
)

// CallStatus is one call as the Manager API lists it.
type CallStatus struct {
	ID         string
	Status     string // selecting, queued, assigned, connecting, connected, finished, failed, ...
	FailReason string // with failed: eu_no_answer, eu_busy, ag_ignored, ...
}

// CallStatuses reads the Manager API's call list, at most maxPages pages of
// 100, until every call of ids is found, and returns those found.
func (c *Client) CallStatuses(ctx context.Context, ids []string) (map[string]CallStatus, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	found := map[string]CallStatus{}
	for page := 1; page <= maxPages && len(found) < len(want); page++ {
		status, raw, err := c.do(ctx, http.MethodGet, fmt.Sprintf("%s?page=%d&per=%d", managerCallsPath, page, perPage), nil)
		if err != nil {
			return nil, fmt.Errorf("list ccai calls: %w", err)
		}
		var calls []struct {
			ID         json.RawMessage `json:"id"`
			Status     string          `json:"status"`
			FailReason string          `json:"fail_reason"`
		}
		if err := json.Unmarshal(raw, &calls); err != nil {
			// Public documentation shows the list as a JSON array of call
			// objects; nothing else is taken for one.
			return nil, fmt.Errorf("list ccai calls: %w", c.unexpected(status, raw, "not the documented call list"))
		}
		for _, cl := range calls {
			id := callID(cl.ID)
			if id != "" && want[id] {
				found[id] = CallStatus{ID: id, Status: cl.Status, FailReason: cl.FailReason}
			}
		}
		if len(calls) < perPage {
			break
		}
	}
	return found, nil
}

// Provider returns c as a dispatch.Provider that also implements
// dispatch.AnswerChecker when Config.CheckAnswered is set, and c alone
// otherwise: the dispatcher finds the ability by type assertion.
func (c *Client) Provider() dispatch.Provider {
	if c.cfg.CheckAnswered {
		return answering{c}
	}
	return c
}

// answering adds dispatch.AnswerChecker to a Client.
type answering struct{ *Client }

// Answered reports whether a call of res is connected or finished
// (answered), by whom, and whether every call is over: answered, or failed
// (with a fail_reason). Calls not found in the list's first pages count as
// not over.
func (a answering) Answered(ctx context.Context, res dispatch.Result) (answered bool, by string, done bool, err error) {
	if len(res.References) == 0 {
		return false, "", false, nil
	}
	st, err := a.CallStatuses(ctx, res.References)
	if err != nil {
		return false, "", false, err
	}
	done = true
	for _, id := range res.References {
		s, ok := st[id]
		switch {
		case ok && isAnswered(s.Status):
			return true, a.person(id), true, nil
		case ok && s.Status == "failed":
		default:
			done = false
		}
	}
	return false, "", done, nil
}

// isAnswered reports whether a call in status was answered: connected
// (agent and person both on the call) or finished (ended after it was
// connected). failed (ended before it was connected, with a fail_reason) is
// the unanswered end; the other statuses are taken as not over yet.
func isAnswered(status string) bool { return status == "connected" || status == "finished" }

// remember keeps which person a call id was for, for Answered's "by".
func (c *Client) remember(id, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.people) > 10000 {
		clear(c.people)
	}
	c.people[id] = name
}

func (c *Client) person(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.people[id]
}
