package yemotsim

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // Israel's time zone, on any machine
)

// SMS is one text message the simulated system received.
type SMS struct {
	// Dest and From are numbers as the log shows them: international
	// digits, e.g. 972541234567.
	Dest, From string
	Text       string
	// At is when the system received it.
	At time.Time
}

// israel is the time zone server_date is written in. The manual does not
// say; the service is in Israel, so Israel time is the likely one.
var israel = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Jerusalem")
	if err != nil {
		panic(err) // time/tzdata is embedded
	}
	return loc
}()

// serverDate is server_date's layout, from the manual's example
// "22:40:54 2024-07-30": the time, then the date.
const serverDate = "15:04:05 2006-01-02"

// ReceiveSMS records a text message from the number from (E.164, or
// Israeli national digits) to the system's number (Config.SMSNumber),
// received at at (zero: now, on the simulator's clock).
func (s *Server) ReceiveSMS(from, text string, at time.Time) {
	s.ReceiveSMSTo(s.cfg.SMSNumber, from, text, at)
}

// ReceiveSMSTo is ReceiveSMS to the number dest.
func (s *Server) ReceiveSMSTo(dest, from, text string, at time.Time) {
	if at.IsZero() {
		at = s.cfg.Clock.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sms = append(s.sms, SMS{Dest: international(dest), From: international(from), Text: text, At: at})
}

// ReceivedSMS returns the text messages received, in the order they were
// recorded.
func (s *Server) ReceivedSMS() []SMS {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sms)
}

// NumbersAsStrings makes GetSmsIncomingLog list dest and phone as JSON
// strings ("972541234567") rather than numbers (972541234567). The manual's
// type column says int; that is what the simulator sends by default, but
// a PHP service may well send either.
func (s *Server) NumbersAsStrings(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.smsText = on
}

// smsLog runs GetSmsIncomingLog (s.mu held): the newest limit messages,
// newest first, optionally between startDate and endDate.
func (s *Server) smsLog(p params) answer {
	limit, err := p.num("limit", 0)
	if err != nil || limit < 1 {
		return fail("ERROR", "limit must be a positive number")
	}
	from, _, ok := dateParam(p.str("startDate"))
	if !ok {
		return fail("ERROR", "startDate: unrecognised date "+p.str("startDate"))
	}
	_, until, ok := dateParam(p.str("endDate"))
	if !ok {
		return fail("ERROR", "endDate: unrecognised date "+p.str("endDate"))
	}
	msgs := slices.Clone(s.sms)
	slices.SortStableFunc(msgs, func(a, b SMS) int { return b.At.Compare(a.At) }) // newest first
	rows := []answer{}
	for _, m := range msgs {
		if len(rows) == limit {
			break
		}
		if (!from.IsZero() && m.At.Before(from)) || (!until.IsZero() && !m.At.Before(until)) {
			continue
		}
		rows = append(rows, answer{"dest": s.number(m.Dest), "phone": s.number(m.From), "message": m.Text,
			"server_date": m.At.In(israel).Format(serverDate)})
	}
	return answer{"responseStatus": "OK", "rows": rows}
}

func (s *Server) number(digits string) any {
	if s.smsText || digits == "" || digits[0] == '0' { // a leading 0 is no JSON number
		return digits
	}
	return json.Number(digits)
}

// dateParam reads startDate or endDate: the first instant it covers, and
// the first it no longer covers ("2024-07-30" covers the whole day). The
// manual does not say what the dates look like; the simulator accepts a
// date, a date and time, server_date's own form and dd/mm/yyyy, in Israel
// time, and refuses anything else. Empty is no bound (ok).
func dateParam(v string) (from, until time.Time, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, time.Time{}, true
	}
	for _, l := range []struct {
		layout string
		span   time.Duration
	}{{"2006-01-02", 24 * time.Hour}, {"02/01/2006", 24 * time.Hour}, {"2006-01-02 15:04:05", time.Second}, {serverDate, time.Second}} {
		if t, err := time.ParseInLocation(l.layout, v, israel); err == nil {
			return t, t.Add(l.span), true
		}
	}
	return time.Time{}, time.Time{}, false
}

// international returns n as international digits: "+972 54-123-4567",
// "0541234567" (Israeli national) and "00972541234567" all become
// "972541234567".
func international(n string) string {
	var b strings.Builder
	for _, r := range n {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	d := b.String()
	switch {
	case strings.HasPrefix(strings.TrimSpace(n), "+"):
		return d
	case strings.HasPrefix(d, "00"):
		return d[2:]
	case strings.HasPrefix(d, "0"):
		return "972" + d[1:]
	}
	return d
}
