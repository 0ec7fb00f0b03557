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

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
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
	s.mu.Unlock()
	if hook != nil {
		hook(rec)
	}

	if f != nil {
		switch {
		case f.hang:
			select {
			case <-r.Context().Done():
			case <-s.closed:
			}
			return
		case f.retryAfter > 0:
			w.Header().Set("Retry-After", strconv.Itoa(int(f.retryAfter.Seconds())))
		}
		reply(w, f.status, "injected fault")
		return
	}

	m := pathRE.FindStringSubmatch(r.URL.Path)
	if m == nil {
		reply(w, http.StatusNotFound, "not found")
		return
	}
	key, what := m[1], m[2]
	// The manual does not say what a wrong Auth Code gets; 401 is our guess.
	if !rec.AuthOK {
		reply(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ru, ok := s.rules[key]
	if !ok {
		reply(w, http.StatusNotFound, "rule not found")
		return
	}
	switch {
	case what == "tel" && r.Method == http.MethodGet:
		// Undocumented body: we answer the list in the PUT's field names.
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"call_to_tels": nonNil(ru.tels)})
	case what == "tel" && r.Method == http.MethodPut:
		tels, err := parseForm(r.Header.Get("Content-Type"), string(body))
		if err != nil {
			reply(w, err.status, err.msg)
			return
		}
		ru.tels = tels // overwrite, not append (上書き)
		reply(w, http.StatusOK, "ok")
	case what == "call" && r.Method == http.MethodPost:
		// 通常 needs exactly one registered number; the others two or more.
		n := len(ru.tels)
		if (ru.typ == Normal && n != 1) || (ru.typ != Normal && n < 2) {
			reply(w, http.StatusBadRequest, fmt.Sprintf("rule type needs %s numbers, has %d", need(ru.typ), n))
			return
		}
		var rung []string
		for _, t := range ru.tels {
			if t.Check == 1 {
				rung = append(rung, t.Tel)
			}
		}
		s.calls = append(s.calls, Call{Rule: key, Type: ru.typ, Tels: rung})
		reply(w, http.StatusOK, "ok")
	default:
		w.Header().Set("Allow", map[string]string{"tel": "GET, PUT", "call": "POST"}[what])
		reply(w, http.StatusMethodNotAllowed, "method not allowed")
	}
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
