package yemotsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// command is one command the simulator implements, with its parameters by
// their exact names (Yemot's are case-sensitive: callsTimeOut, not
// callsTimeout).
type command struct {
	required, optional []string
}

// commands are the commands the simulator implements. The call manual's:
// CallExtensionBridging (token, phones, ivrPath; callerId, callsTimeOut),
// RunTzintuk (phones, "like CallExtensionBridging"), GetSmsIncomingLog
// (token, limit; startDate, endDate "optional"). Beyond it, from public
// client code: Login (username, password), GetCampaignStatus (campaignId),
// RunTzintuk's TzintukTimeOut.
var commands = map[string]command{
	"Login":             {required: []string{"username", "password"}},
	bridging:            {required: []string{"token", "phones", "ivrPath"}, optional: []string{"callerId", "callsTimeOut"}},
	tzintuk:             {required: []string{"token", "phones"}, optional: []string{"callerId", "TzintukTimeOut"}},
	"GetCampaignStatus": {required: []string{"token", "campaignId"}},
	"GetSmsIncomingLog": {required: []string{"token", "limit"}, optional: []string{"startDate", "endDate"}},
}

// check returns the answer refusing p's parameters, or nil. The token is
// checked apart (checkToken), before this.
//
// What Yemot answers to a missing or misspelt parameter is not documented,
// nor is the text of any of its messages. A missing required parameter is
// refused as "<name> is required", with responseStatus ERROR, the most
// plausible answer (and what a misspelt required one comes to). A PHP
// service most likely ignores a parameter it does not read, so a misspelt
// optional one (callerID, callsTimeout) would be dropped without a word
// there; the simulator refuses every unknown parameter instead (ERROR
// "unknown parameter <name>"), so that a test catches the misspelling the
// real service would hide.
func (c command) check(p params) answer {
	for _, k := range c.required {
		if k != "token" && !p.has(k) {
			return fail("ERROR", k+" is required")
		}
	}
	for _, k := range p.names() {
		if !slices.Contains(c.required, k) && !slices.Contains(c.optional, k) {
			return fail("ERROR", "unknown parameter "+k)
		}
	}
	return nil
}

// params are a request's parameters: a JSON body's keys (POST with
// Content-Type: application/json), else the query and form values.
type params struct {
	json map[string]json.RawMessage
	vals url.Values
}

func parseParams(r *http.Request, body []byte) (params, error) {
	p := params{vals: r.URL.Query()}
	if r.Method != http.MethodPost {
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		if err := json.Unmarshal(body, &p.json); err != nil {
			return p, errors.New("invalid json body")
		}
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return p, errors.New("invalid form body")
		}
		for k, v := range form {
			p.vals[k] = append(p.vals[k], v...)
		}
	}
	return p, nil
}

// names returns the names of every parameter sent, sorted.
func (p params) names() []string {
	var out []string
	for k := range p.json {
		out = append(out, k)
	}
	for k := range p.vals {
		if _, dup := p.json[k]; !dup {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// has reports whether parameter k was sent and is not empty.
func (p params) has(k string) bool {
	if raw, ok := p.json[k]; ok {
		t := string(bytes.TrimSpace(raw))
		return t != "" && t != "null" && t != `""` && t != "[]"
	}
	return p.vals.Get(k) != ""
}

// str returns a string (or number) parameter, "" when absent.
func (p params) str(k string) string {
	if raw, ok := p.json[k]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return string(bytes.TrimSpace(raw))
	}
	return p.vals.Get(k)
}

// num returns an integer parameter, def when absent.
func (p params) num(k string, def int) (int, error) {
	s := p.str(k)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s is not a number", k)
	}
	return n, nil
}

// phones reads the phones parameter in any documented form and says which.
func (p params) phones() ([]string, string, error) {
	raw, ok := p.json["phones"]
	if !ok || (len(raw) > 0 && raw[0] == '"') {
		return colonForm(p.str("phones"))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, "", errors.New("phones must be an array or a string")
	}
	var out []string
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			out = append(out, s)
			continue
		}
		var obj struct {
			Phone    string   `json:"phone"`
			Phones   []string `json:"phones"`
			CallerID string   `json:"callerId"`
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(it, &obj); err != nil || (obj.Phone == "" && len(obj.Phones) == 0) || json.Unmarshal(it, &keys) != nil {
			return nil, "", errors.New("phones holds an entry that is not a number, {phone} or {phones}")
		}
		for k := range keys {
			if k != "phone" && k != "phones" && k != "callerId" {
				return nil, "", fmt.Errorf("unknown parameter phones[].%s", k)
			}
		}
		if obj.Phone != "" {
			out = append(out, obj.Phone)
		}
		out = append(out, obj.Phones...)
	}
	return out, "json", nil
}

func colonForm(s string) ([]string, string, error) {
	if s == "" {
		return nil, "colon", nil
	}
	if strings.HasPrefix(s, "tpl:") || strings.HasPrefix(s, "tzl:") {
		return nil, "", errors.New("distribution and tzintuk lists are not simulated")
	}
	return strings.Split(s, ":"), "colon", nil
}
