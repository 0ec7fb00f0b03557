// Package silence keeps the silences made at run time: which alerts to keep
// quiet, from when, until when, by whom and why. Silences live in a
// JetStream KV bucket shared by every worker, survive restarts, and stay a
// while after they end, for the record. Each worker keeps them in memory,
// followed with a KV watch, so checking an alert costs no round trip.
//
// A silence's status is derived from its times, never stored (as in
// Alertmanager's silences): pending before StartsAt, active until EndsAt,
// expired after.
package silence

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/policy"
)

// A silence's statuses.
const (
	Pending = "pending"
	Active  = "active"
	Expired = "expired"
)

// Silence is one silence.
type Silence struct {
	ID string `json:"id"`
	// Matchers are label values an alert must have, MatchersRegex regular
	// expressions (anchored: "db-.*" matches the whole value) its labels
	// must match. "severity" matches the alert's severity (or its severity
	// label), case-insensitive, as in a policy's match.
	Matchers      map[string]string `json:"matchers,omitempty"`
	MatchersRegex map[string]string `json:"matchers_regex,omitempty"`
	StartsAt      time.Time         `json:"starts_at"`
	EndsAt        time.Time         `json:"ends_at"`
	By            string            `json:"by"`
	Comment       string            `json:"comment,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	// ExpiredAt is when it was ended before its time (DELETE), if it was.
	ExpiredAt time.Time `json:"expired_at,omitzero"`

	match policy.Match
	// rev is its revision in the bucket (Store).
	rev uint64
}

// Status is pending, active or expired at now.
func (s Silence) Status(now time.Time) string {
	switch {
	case now.Before(s.StartsAt):
		return Pending
	case now.Before(s.EndsAt):
		return Active
	}
	return Expired
}

// View is a silence as the API shows it: with its status at a moment.
type View struct {
	Silence
	Status string `json:"status"`
}

// ViewAt is s with its status at now.
func (s Silence) ViewAt(now time.Time) View { return View{Silence: s, Status: s.Status(now)} }

// Matches reports whether s's matchers all hold for ev (whatever its times).
func (s *Silence) Matches(ev alert.Event) bool { return s.match.Matches(ev) }

// compile builds the match from the matchers (after decoding or creating).
func (s *Silence) compile() error {
	m := policy.Match{LabelsRegex: s.MatchersRegex}
	for k, v := range s.Matchers {
		if k == "severity" {
			m.Severity = []string{v}
			continue
		}
		if m.Labels == nil {
			m.Labels = map[string]string{}
		}
		m.Labels[k] = v
	}
	// A round trip through JSON compiles the regexes once.
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, &s.match)
}

// decode reads a stored silence, its matchers compiled. (Not an
// UnmarshalJSON: View embeds Silence, and would inherit it.)
func decode(b []byte) (Silence, error) {
	var s Silence
	if err := json.Unmarshal(b, &s); err != nil {
		return Silence{}, err
	}
	return s, s.compile()
}

// Request is what POST /v1/silences takes.
type Request struct {
	Matchers      map[string]string `json:"matchers"`
	MatchersRegex map[string]string `json:"matchers_regex"`
	// StartsAt is RFC 3339 (empty: now).
	StartsAt string `json:"starts_at"`
	// EndsAt is RFC 3339; or Duration, a Go duration from StartsAt.
	EndsAt   string `json:"ends_at"`
	Duration string `json:"duration"`
	By       string `json:"by"`
	Comment  string `json:"comment"`
}

// FieldError is a request's problem, naming its field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

var labelName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// build checks r and makes the silence it asks for, at now, at most max
// long (0: no limit).
func (r Request) build(id string, now time.Time, max time.Duration) (Silence, error) {
	fail := func(field, format string, args ...any) (Silence, error) {
		return Silence{}, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(r.Matchers) == 0 && len(r.MatchersRegex) == 0 {
		return fail("matchers", "at least one matcher is required: a silence of every alert would silence the pager itself")
	}
	for _, kv := range []struct {
		field string
		m     map[string]string
	}{{"matchers", r.Matchers}, {"matchers_regex", r.MatchersRegex}} {
		for k, v := range kv.m {
			if !labelName.MatchString(k) {
				return fail(kv.field+"."+k, "%q is not a label name", k)
			}
			if kv.field == "matchers_regex" {
				if _, err := regexp.Compile("^(?:" + v + ")$"); err != nil {
					return fail(kv.field+"."+k, "regular expression does not compile: %v", err)
				}
			} else if strings.TrimSpace(v) == "" {
				return fail(kv.field+"."+k, "must not be empty (a label that is absent cannot be silenced by value)")
			}
		}
	}
	if strings.TrimSpace(r.By) == "" {
		return fail("by", "is required: who makes the silence")
	}
	start := now
	if r.StartsAt != "" {
		t, err := time.Parse(time.RFC3339, r.StartsAt)
		if err != nil {
			return fail("starts_at", "must be an RFC 3339 time such as 2026-11-29T02:00:00+09:00, got %q", r.StartsAt)
		}
		start = t
	}
	var end time.Time
	switch {
	case r.EndsAt != "" && r.Duration != "":
		return fail("ends_at", "give ends_at or duration, not both")
	case r.EndsAt != "":
		t, err := time.Parse(time.RFC3339, r.EndsAt)
		if err != nil {
			return fail("ends_at", "must be an RFC 3339 time such as 2026-11-29T04:00:00+09:00, got %q", r.EndsAt)
		}
		end = t
	case r.Duration != "":
		d, err := time.ParseDuration(r.Duration)
		if err != nil || d <= 0 {
			return fail("duration", "must be a positive Go duration such as 2h, got %q", r.Duration)
		}
		end = start.Add(d)
	default:
		return fail("ends_at", "is required (or duration): a silence must end")
	}
	switch {
	case !end.After(start):
		return fail("ends_at", "must be after starts_at")
	case !end.After(now):
		return fail("ends_at", "is in the past: the silence would never be active")
	case max > 0 && end.Sub(start) > max:
		return fail("ends_at", "a silence lasts at most %s (--max-silence), this one %s", max, end.Sub(start).Round(time.Second))
	}
	s := Silence{ID: id, Matchers: r.Matchers, MatchersRegex: r.MatchersRegex, StartsAt: start.UTC(), EndsAt: end.UTC(),
		By: strings.TrimSpace(r.By), Comment: r.Comment, CreatedAt: now.UTC()}
	if err := s.compile(); err != nil {
		return Silence{}, err
	}
	return s, nil
}
