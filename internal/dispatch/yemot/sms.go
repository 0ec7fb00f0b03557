package yemot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Israel's time zone, on any machine
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/phone"
)

// SMS is one incoming text message, as GetSmsIncomingLog lists it.
type SMS struct {
	// Dest is the number it was sent to, and Phone the sender's, as digits
	// (the manual shows ints such as 972541234567).
	Dest, Phone string
	// Message is the text, decoded (see IncomingSMS).
	Message string
	// ServerDate is server_date as Yemot wrote it, e.g. "22:40:54 2024-07-30".
	ServerDate string
	// At is ServerDate read as Israel time; zero when it cannot be read.
	At time.Time
}

// SMSQuery asks GetSmsIncomingLog for messages.
type SMSQuery struct {
	// Limit is how many of the latest messages (the manual's limit); at
	// least 1.
	Limit int
	// StartDate and EndDate are sent as they are when set. The manual calls
	// them optional and says nothing of their form; this client does not
	// guess one (the Acknowledger never sends them).
	StartDate, EndDate string
}

// israel is the time zone server_date is read in. The manual does not say;
// the service is in Israel and writes local wall-clock times without an
// offset, so Israel time is the likely one.
var israel = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Jerusalem")
	if err != nil {
		panic(err) // time/tzdata is embedded
	}
	return loc
}()

// serverDateLayouts are the forms server_date is read in: the manual's
// example ("22:40:54 2024-07-30", time first), then forms it might take
// instead. Layouts without an offset are Israel time.
var serverDateLayouts = []string{
	"15:04:05 2006-01-02",
	"2006-01-02 15:04:05",
	time.RFC3339,
	"2006-01-02T15:04:05",
	"02/01/2006 15:04:05",
	"02/01/2006 15:04",
}

// IncomingSMS reads the text messages the system received with
// GetSmsIncomingLog, as Yemot lists them (the latest first, going by the
// manual's example). The manual leaves much open, so each row is read
// defensively: an object of dest, phone, message and server_date, or (the
// manual says each message comes "in an array of its own") a list of the
// four in that order; dest and phone as JSON numbers or strings (or a
// number PHP wrote as a float), a sender that is not a number (an
// alphanumeric sender id) leaving Phone empty; message as a string or
// anything else, and decoded once more when it is itself JSON-encoded (the
// manual's note on it says it "needs converting to JSON format", which may
// mean either); server_date in any of serverDateLayouts, Israel time. A
// row that is neither an object nor such a list is logged and left out.
func (c *Client) IncomingSMS(ctx context.Context, q SMSQuery) ([]SMS, error) {
	if q.Limit < 1 {
		return nil, fmt.Errorf("read yemot text messages: limit must be at least 1, got %d", q.Limit)
	}
	var out struct {
		Rows json.RawMessage `json:"rows"`
	}
	err := c.command(ctx, "GetSmsIncomingLog", func(tok string) any {
		return struct {
			Token     string `json:"token"`
			Limit     int    `json:"limit"`
			StartDate string `json:"startDate,omitempty"`
			EndDate   string `json:"endDate,omitempty"`
		}{tok, q.Limit, q.StartDate, q.EndDate}
	}, &out)
	if err != nil {
		return nil, fmt.Errorf("read yemot text messages: %w", err)
	}
	rows, err := rowList(out.Rows)
	if err != nil {
		return nil, c.scrub(fmt.Errorf("read yemot text messages: %w", err))
	}
	msgs := make([]SMS, 0, len(rows))
	for i, raw := range rows {
		m, ok := readSMS(raw)
		if !ok {
			c.log.Warn("a text message row that cannot be read; left out", zap.Int("row", i),
				zap.String("row_json", c.redact(dispatch.Excerpt(raw))))
			continue
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// rowList reads rows: a JSON list; or an object (what PHP makes of an array
// whose keys are not 0, 1, 2...), its values in the order of their keys, or
// a single row itself; absent or null is none.
func rowList(raw json.RawMessage) ([]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		return list, nil
	}
	var byKey map[string]json.RawMessage
	if json.Unmarshal(raw, &byKey) != nil {
		return nil, fmt.Errorf("rows is neither a list nor an object: %s", dispatch.Excerpt(raw))
	}
	if _, ok := byKey["phone"]; ok {
		return []json.RawMessage{raw}, nil
	}
	keys := slices.Collect(maps.Keys(byKey))
	slices.SortFunc(keys, func(a, b string) int {
		x, errA := strconv.Atoi(a)
		y, errB := strconv.Atoi(b)
		if errA == nil && errB == nil {
			return x - y
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys {
		list = append(list, byKey[k])
	}
	return list, nil
}

// readSMS reads one row of GetSmsIncomingLog.
func readSMS(raw json.RawMessage) (SMS, bool) {
	var row struct {
		Dest       json.RawMessage `json:"dest"`
		Phone      json.RawMessage `json:"phone"`
		Message    json.RawMessage `json:"message"`
		ServerDate json.RawMessage `json:"server_date"`
	}
	if json.Unmarshal(raw, &row) != nil {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil || len(list) < 4 {
			return SMS{}, false
		}
		row.Dest, row.Phone, row.Message, row.ServerDate = list[0], list[1], list[2], list[3]
	}
	m := SMS{Dest: digitsOf(row.Dest), Phone: digitsOf(row.Phone), Message: text(row.Message)}
	m.ServerDate = strings.TrimSpace(text(row.ServerDate))
	m.At = readServerDate(m.ServerDate)
	return m, true
}

// digitsOf reads a number given as a JSON number or string: its digits
// ("+972-54-1234567" gives 972541234567; a float such as 9.72541234567e+11
// gives the integer). Absent, null, or no number at all is "".
func digitsOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	s := string(raw)
	if raw[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
	} else if strings.ContainsAny(s, ".eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || f > 1e16 {
			return ""
		}
		s = strconv.FormatFloat(f, 'f', 0, 64)
	}
	if strings.IndexFunc(s, func(r rune) bool { return r > unicode.MaxASCII || unicode.IsLetter(r) }) >= 0 {
		return "" // an alphanumeric sender id, not a number
	}
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// text reads a JSON string (decoding it once more when it holds a JSON
// string itself, quotes and all, or \u escapes), or anything else as its
// JSON text; null and absent are "". Invalid UTF-8 is replaced.
func text(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return strings.ToValidUTF8(string(raw), "\uFFFD")
	}
	var again string
	switch t := strings.TrimSpace(s); {
	case len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' && json.Unmarshal([]byte(t), &again) == nil:
		s = again
	case strings.Contains(s, `\u`) && json.Unmarshal([]byte(`"`+s+`"`), &again) == nil:
		s = again
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// readServerDate reads server_date in Israel time (or its own offset), or
// returns zero.
func readServerDate(s string) time.Time {
	for _, l := range serverDateLayouts {
		if t, err := time.ParseInLocation(l, s, israel); err == nil {
			return t
		}
	}
	return time.Time{}
}

// e164 returns the sender's digits in E.164 form: international digits
// (972522345678) gain a "+"; a national Israeli number (0522345678) and
// one with the international prefix (00972...) are read as such. A number
// the phone package cannot validate is still given as "+" and its digits,
// so that the reply is handed on (the engine matches it to nobody).
func e164(digits string) string {
	d := digits
	switch {
	case d == "":
		return ""
	case strings.HasPrefix(d, "00"):
		d = d[2:]
	case strings.HasPrefix(d, "0"):
		d = "972" + d[1:]
	}
	if n, err := phone.Parse("+" + d); err == nil {
		return n
	}
	return "+" + d
}
