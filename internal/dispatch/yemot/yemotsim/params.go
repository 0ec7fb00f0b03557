package yemotsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

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
			Phone  string   `json:"phone"`
			Phones []string `json:"phones"`
		}
		if err := json.Unmarshal(it, &obj); err != nil || (obj.Phone == "" && len(obj.Phones) == 0) {
			return nil, "", errors.New("phones holds an entry that is not a number, {phone} or {phones}")
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
