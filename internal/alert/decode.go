package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Reasons an event is rejected. Each is a single NATS subject token, used as
// the last token of escalator.dead.<reason>.
const (
	ReasonTooLarge      = "too_large"
	ReasonNotJSON       = "not_json"
	ReasonBadField      = "bad_field"
	ReasonMissingStatus = "missing_status"
	ReasonUnknownStatus = "unknown_status"
	ReasonMissingID     = "missing_id"
	ReasonBadID         = "bad_id"
)

// DefaultMaxSize is the largest event Decode accepts by default (64 KiB).
const DefaultMaxSize = 64 << 10

// MaxIDLength is the longest id accepted, in bytes.
const MaxIDLength = 256

// InvalidError says why an event was rejected. Field names the JSON field at
// fault, when there is one.
type InvalidError struct {
	Reason string
	Field  string
	Msg    string
}

func (e *InvalidError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Msg)
	}
	return e.Msg
}

// ReasonOf returns the rejection reason of err, or "" when err is not an
// *InvalidError.
func ReasonOf(err error) string {
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie.Reason
	}
	return ""
}

func invalid(reason, field, format string, args ...any) error {
	return &InvalidError{Reason: reason, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Decode parses and validates one event. maxSize <= 0 means DefaultMaxSize.
// On success the event has an ID (the labels' fingerprint when it had none)
// and a Severity (the "severity" label when it had none).
func Decode(data []byte, maxSize int) (Event, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if len(data) > maxSize {
		return Event{}, invalid(ReasonTooLarge, "", "event is %d bytes, over the limit of %d", len(data), maxSize)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return Event{}, invalid(ReasonNotJSON, "", "event must be a JSON object, got %s", ute.Value)
		}
		return Event{}, invalid(ReasonNotJSON, "", "not valid JSON: %v", err)
	}
	if raw == nil {
		return Event{}, invalid(ReasonNotJSON, "", "event must be a JSON object, got null")
	}
	return FromFields(raw)
}

// FromFields builds and validates an event from a decoded JSON object.
func FromFields(raw map[string]json.RawMessage) (Event, error) {
	var ev Event
	fields := []struct {
		name string
		dst  any
	}{
		{"id", &ev.ID}, {"status", &ev.Status}, {"summary", &ev.Summary},
		{"severity", &ev.Severity}, {"labels", &ev.Labels}, {"annotations", &ev.Annotations},
		{"source", &ev.Source}, {"by", &ev.By},
	}
	for _, f := range fields {
		v, ok := raw[f.name]
		if !ok || isNull(v) {
			continue
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return Event{}, invalid(ReasonBadField, f.name, "%s", typeMsg(f.name, err))
		}
	}
	if v, ok := raw["at"]; ok && !isNull(v) {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return Event{}, invalid(ReasonBadField, "at", "must be an RFC 3339 time string")
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return Event{}, invalid(ReasonBadField, "at", "must be an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", s)
		}
		ev.At = t
	}
	for k, v := range raw {
		if !knownFields[k] {
			if ev.Extra == nil {
				ev.Extra = make(map[string]json.RawMessage)
			}
			ev.Extra[k] = v
		}
	}
	if err := ev.normalize(); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// Validate checks an event built in code (e.g. by an HTTP adapter) exactly as
// Decode would, and fills in its ID and Severity.
func (e *Event) Validate() error { return e.normalize() }

func (e *Event) normalize() error {
	e.Status = Status(strings.ToLower(strings.TrimSpace(string(e.Status))))
	if e.Status == "" {
		return invalid(ReasonMissingStatus, "status", "is required (firing, resolved or acknowledged)")
	}
	if !e.Status.Valid() {
		return invalid(ReasonUnknownStatus, "status", "unknown status %q: want firing, resolved or acknowledged", truncate(string(e.Status), 64))
	}
	if e.ID == "" {
		if len(e.Labels) == 0 {
			return invalid(ReasonMissingID, "id", "is required when there are no labels to fingerprint")
		}
		e.ID = Fingerprint(e.Labels)
	}
	if err := CheckID(e.ID); err != nil {
		return err
	}
	if e.Severity == "" {
		e.Severity = e.Labels["severity"]
	}
	return nil
}

// CheckID reports whether id can name an alert: 1 to MaxIDLength bytes of
// valid UTF-8, no control characters, not only white space.
func CheckID(id string) error {
	switch {
	case strings.TrimSpace(id) == "":
		return invalid(ReasonBadID, "id", "must not be empty or blank")
	case len(id) > MaxIDLength:
		return invalid(ReasonBadID, "id", "is %d bytes, over the limit of %d", len(id), MaxIDLength)
	case !utf8.ValidString(id):
		return invalid(ReasonBadID, "id", "is not valid UTF-8")
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return invalid(ReasonBadID, "id", "must not contain control characters")
	}
	return nil
}

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

func typeMsg(field string, err error) string {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		want := "a string"
		switch field {
		case "labels", "annotations":
			want = "an object of strings"
		}
		return fmt.Sprintf("must be %s, got %s", want, ute.Value)
	}
	return err.Error()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
