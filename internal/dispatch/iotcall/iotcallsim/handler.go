package iotcallsim

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var (
	pathRE  = regexp.MustCompile(`^/pattern/([^/]+)/(tel|call)$`)
	fieldRE = regexp.MustCompile(`^call_to_tels\[(\d+)\]\[(tel|group|check|international_prefix_id)\]$`)
	digits  = regexp.MustCompile(`^[0-9]+$`)
)

// ServeHTTP implements http.Handler. A request takes effect (or fails)
// first; then the hook sees it; then it is answered.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(r.Body, 1<<20))
	}
	h := r.Header.Clone()
	h.Del("Authorization")
	rec := Request{Method: r.Method, Path: r.URL.Path, Header: h, Body: string(body),
		AuthOK: r.Header.Get("Authorization") == s.auth}

	s.mu.Lock()
	s.requests = append(s.requests, rec)
	hook := s.hook
	var f *fault
	if len(s.faults) > 0 {
		f = &s.faults[0]
		s.faults = s.faults[1:]
	}
	var resp answer
	if f == nil {
		resp = s.handle(r, key(r.URL.Path), rec, body)
	}
	s.mu.Unlock()
	if hook != nil {
		hook(rec)
	}

	if f != nil {
		if f.hang {
			select {
			case <-r.Context().Done():
			case <-s.closed:
			}
			return
		}
		resp = answer{status: f.status, msg: "injected fault"}
		if f.retryAfter > 0 {
			resp.header = http.Header{"Retry-After": {strconv.Itoa(int(f.retryAfter.Seconds()))}}
		}
	}
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	if resp.json != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.status)
		_ = json.NewEncoder(w).Encode(resp.json)
		return
	}
	reply(w, resp.status, resp.msg)
}

// answer is a response decided under the lock and written after the hook.
type answer struct {
	status int
	msg    string
	json   any
	header http.Header
}

func key(path string) []string { return pathRE.FindStringSubmatch(path) }

// handle applies one request to the rules; s.mu is held.
func (s *Sim) handle(r *http.Request, m []string, rec Request, body []byte) answer {
	if m == nil {
		return answer{status: http.StatusNotFound, msg: "not found"}
	}
	key, what := m[1], m[2]
	// The manual does not say what a wrong Auth Code gets; 401 is our guess.
	if !rec.AuthOK {
		return answer{status: http.StatusUnauthorized, msg: "unauthorized"}
	}
	ru, ok := s.rules[key]
	if !ok {
		return answer{status: http.StatusNotFound, msg: "rule not found"}
	}
	switch {
	case what == "tel" && r.Method == http.MethodGet:
		// Undocumented body: we answer the list in the PUT's field names.
		return answer{status: http.StatusOK, json: map[string]any{"call_to_tels": nonNil(ru.tels)}}
	case what == "tel" && r.Method == http.MethodPut:
		tels, err := parseForm(r.Header.Get("Content-Type"), string(body))
		if err != nil {
			return answer{status: err.status, msg: err.msg}
		}
		ru.tels = tels // overwrite, not append (上書き)
		return answer{status: http.StatusOK, msg: "ok"}
	case what == "call" && r.Method == http.MethodPost:
		// 通常 needs exactly one registered number; the others two or more.
		n := len(ru.tels)
		if (ru.typ == Normal && n != 1) || (ru.typ != Normal && n < 2) {
			return answer{status: http.StatusBadRequest,
				msg: fmt.Sprintf("rule type needs %s numbers, has %d", need(ru.typ), n)}
		}
		var rung []string
		for _, t := range ru.tels {
			if t.Check == 1 {
				rung = append(rung, t.Tel)
			}
		}
		s.calls = append(s.calls, Call{Rule: key, Type: ru.typ, Tels: rung})
		return answer{status: http.StatusOK, msg: "ok"}
	}
	allow := map[string]string{"tel": "GET, PUT", "call": "POST"}[what]
	return answer{status: http.StatusMethodNotAllowed, msg: "method not allowed", header: http.Header{"Allow": {allow}}}
}

func need(t RuleType) string {
	if t == Normal {
		return "exactly 1"
	}
	return "2 or more"
}

func nonNil(t []Entry) []Entry {
	if t == nil {
		return []Entry{}
	}
	return t
}

// reply writes an undocumented JSON body: {"result": "..."}.
func reply(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"result": msg})
}

type httpErr struct {
	status int
	msg    string
}

// parseForm checks the PUT body: every field is one of the four, indices
// run from 0 without gaps, every index has all four, tel is digits, check
// is 0 or 1, group and international_prefix_id are at least 1.
func parseForm(contentType, body string) ([]Entry, *httpErr) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, &httpErr{http.StatusUnsupportedMediaType, "content type must be application/x-www-form-urlencoded"}
	}
	vals, err := url.ParseQuery(body)
	if err != nil {
		return nil, &httpErr{http.StatusBadRequest, "malformed form"}
	}
	byIndex := map[int]map[string]string{}
	for k, v := range vals {
		m := fieldRE.FindStringSubmatch(k)
		if m == nil {
			return nil, &httpErr{http.StatusBadRequest, fmt.Sprintf("unknown field %q", k)}
		}
		if len(v) != 1 {
			return nil, &httpErr{http.StatusBadRequest, fmt.Sprintf("field %q given %d times", k, len(v))}
		}
		i, _ := strconv.Atoi(m[1])
		if byIndex[i] == nil {
			byIndex[i] = map[string]string{}
		}
		byIndex[i][m[2]] = v[0]
	}
	idx := make([]int, 0, len(byIndex))
	for i := range byIndex {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	tels := make([]Entry, 0, len(idx))
	for want, i := range idx {
		if i != want {
			return nil, &httpErr{http.StatusBadRequest, fmt.Sprintf("call_to_tels[%d] missing", want)}
		}
		f := byIndex[i]
		for _, name := range []string{"tel", "group", "check", "international_prefix_id"} {
			if _, ok := f[name]; !ok {
				return nil, &httpErr{http.StatusBadRequest, fmt.Sprintf("call_to_tels[%d][%s] is required", i, name)}
			}
		}
		g, err1 := strconv.Atoi(f["group"])
		c, err2 := strconv.Atoi(f["check"])
		p, err3 := strconv.Atoi(f["international_prefix_id"])
		switch {
		case !digits.MatchString(f["tel"]):
			return nil, &httpErr{http.StatusBadRequest, fmt.Sprintf("call_to_tels[%d][tel] must be digits only", i)}
		case err1 != nil || g < 1:
			return nil, &httpErr{http.StatusBadRequest, fmt.Sprintf("call_to_tels[%d][group] must be 1 or more", i)}
		case err2 != nil || (c != 0 && c != 1):
			return nil, &httpErr{http.StatusBadRequest, fmt.Sprintf("call_to_tels[%d][check] must be 0 or 1", i)}
		case err3 != nil || p < 1:
			return nil, &httpErr{http.StatusBadRequest, fmt.Sprintf("call_to_tels[%d][international_prefix_id] must be 1 or more", i)}
		}
		tels = append(tels, Entry{Tel: strings.TrimSpace(f["tel"]), Group: g, Check: c, PrefixID: p})
	}
	return tels, nil
}
