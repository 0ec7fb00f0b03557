package iotcall

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/escalator-oss/escalator/internal/phone"
	"github.com/escalator-oss/escalator/internal/provider"
)

// Entry is one number of a rule's list, as PUT /pattern/<key>/tel takes it.
type Entry struct {
	// Tel is the number as digits only, national form ("08043391234").
	Tel string
	// Group is the number's group; the manual says "A~" but its example
	// sends 1, 2, 3: we send the position from 1.
	Group int
	// Check is 1 to call the number, 0 to skip it.
	Check int
	// PrefixID is the country's position in IoTCall's country list, from 1.
	PrefixID int
}

// entries formats people for IoTCall, in order. People IoTCall cannot take
// are returned as failed, with the reason.
func entries(people []provider.Person, ids map[int]int) ([]Entry, []provider.Person, []provider.Unreached) {
	var tels []Entry
	var ok []provider.Person
	var failed []provider.Unreached
	for _, p := range people {
		tel, id, err := phone.IoTCall(p.Phone, ids)
		if err != nil {
			failed = append(failed, provider.Unreached{Person: p, Reason: err.Error()})
			continue
		}
		tels = append(tels, Entry{Tel: tel, Group: len(tels) + 1, Check: 1, PrefixID: id})
		ok = append(ok, p)
	}
	return tels, ok, failed
}

// encodeForm writes the PUT body: the four fields of every number, in index
// order from 0 (url.Values would sort "10" before "2").
func encodeForm(tels []Entry) string {
	var b strings.Builder
	for i, t := range tels {
		for _, f := range []struct {
			name, value string
		}{
			{"tel", t.Tel},
			{"group", strconv.Itoa(t.Group)},
			{"check", strconv.Itoa(t.Check)},
			{"international_prefix_id", strconv.Itoa(t.PrefixID)},
		} {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(fmt.Sprintf("call_to_tels[%d][%s]", i, f.name)))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(f.value))
		}
	}
	return b.String()
}

// sameList reads the rule's numbers and reports whether they are want.
func (c *Client) sameList(ctx context.Context, rule string, want []Entry) (bool, error) {
	body, err := c.do(ctx, http.MethodGet, rule, "tel", nil)
	if err != nil {
		return false, fmt.Errorf("get iotcall rule %s numbers: %w", rule, err)
	}
	got, ok := ParseList(body)
	if !ok || len(got) != len(want) {
		return false, nil
	}
	for i := range got {
		if got[i] != want[i] {
			return false, nil
		}
	}
	return true, nil
}

// ParseList reads the body of GET /pattern/<key>/tel. The manual does not
// document it, so this reads defensively: a JSON array of objects with the
// PUT's field names, either bare or under "call_to_tels", "tels" or "data".
// ok is false on anything else, and the caller then replaces the list.
func ParseList(body []byte) (list []Entry, ok bool) {
	var raw []map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil {
			return nil, false
		}
		found := false
		for _, key := range []string{"call_to_tels", "tels", "data"} {
			if v, has := obj[key]; has && json.Unmarshal(v, &raw) == nil {
				found = true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	for _, m := range raw {
		tel, ok1 := field(m, "tel")
		group, ok2 := field(m, "group")
		check, ok3 := field(m, "check")
		pid, ok4 := field(m, "international_prefix_id")
		g, err1 := strconv.Atoi(group)
		c, err2 := strconv.Atoi(check)
		p, err3 := strconv.Atoi(pid)
		if !ok1 || !ok2 || !ok3 || !ok4 || err1 != nil || err2 != nil || err3 != nil {
			return nil, false
		}
		list = append(list, Entry{Tel: tel, Group: g, Check: c, PrefixID: p})
	}
	return list, true
}

// field reads a string or integral number as a string.
func field(m map[string]any, key string) (string, bool) {
	switch v := m[key].(type) {
	case string:
		return v, true
	case float64:
		if v != float64(int64(v)) {
			return "", false
		}
		return strconv.FormatInt(int64(v), 10), true
	}
	return "", false
}
