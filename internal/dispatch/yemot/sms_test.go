package yemot_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot/yemotsim"
)

// TestIncomingSMSRows: GetSmsIncomingLog's rows read defensively, in every
// form the manual leaves open.
func TestIncomingSMSRows(t *testing.T) {
	summer := time.Date(2024, 7, 30, 19, 40, 54, 0, time.UTC) // 22:40:54 in Israel (UTC+3)
	tests := []struct {
		name              string
		row               string
		dest, phone, text string
		at                time.Time // zero: server_date cannot be read
		from              string
		wantLeftOut       bool
	}{
		{name: "the manual's shape", row: `{"dest":972501234567,"phone":972541234567,"message":"ack","server_date":"22:40:54 2024-07-30"}`,
			dest: "972501234567", phone: "972541234567", text: "ack", at: summer, from: "+972541234567"},
		{name: "numbers as strings", row: `{"dest":"972501234567","phone":"+972-54-1234567","message":"ack","server_date":"22:40:54 2024-07-30"}`,
			dest: "972501234567", phone: "972541234567", text: "ack", at: summer, from: "+972541234567"},
		{name: "a number PHP wrote as a float", row: `{"dest":972501234567,"phone":9.72541234567e+11,"message":"ack","server_date":"22:40:54 2024-07-30"}`,
			dest: "972501234567", phone: "972541234567", text: "ack", at: summer, from: "+972541234567"},
		{name: "a national number", row: `{"dest":"0501234567","phone":"0541234567","message":"ack","server_date":"22:40:54 2024-07-30"}`,
			dest: "0501234567", phone: "0541234567", text: "ack", at: summer, from: "+972541234567"},
		{name: "message JSON-encoded twice", row: `{"dest":1,"phone":972541234567,"message":"\"ack\"","server_date":"22:40:54 2024-07-30"}`,
			dest: "1", phone: "972541234567", text: "ack", at: summer, from: "+972541234567"},
		{name: "message with its escapes left in", row: `{"dest":1,"phone":972541234567,"message":"\\u05d0\\u05d9\\u05e9\\u05d5\\u05e8 ok","server_date":"22:40:54 2024-07-30"}`,
			dest: "1", phone: "972541234567", text: "אישור ok", at: summer, from: "+972541234567"},
		{name: "message in Hebrew", row: `{"dest":1,"phone":972541234567,"message":"קיבלתי","server_date":"22:40:54 2024-07-30"}`,
			dest: "1", phone: "972541234567", text: "קיבלתי", at: summer, from: "+972541234567"},
		{name: "message a number", row: `{"dest":1,"phone":972541234567,"message":1,"server_date":"22:40:54 2024-07-30"}`,
			dest: "1", phone: "972541234567", text: "1", at: summer, from: "+972541234567"},
		{name: "a row as a list", row: `[972501234567,972541234567,"ack","22:40:54 2024-07-30"]`,
			dest: "972501234567", phone: "972541234567", text: "ack", at: summer, from: "+972541234567"},
		{name: "an alphanumeric sender", row: `{"dest":1,"phone":"BANK","message":"ack","server_date":"22:40:54 2024-07-30"}`,
			dest: "1", phone: "", text: "ack", at: summer, from: ""},
		{name: "date first", row: `{"dest":1,"phone":972541234567,"message":"ack","server_date":"2024-07-30 22:40:54"}`,
			dest: "1", phone: "972541234567", text: "ack", at: summer, from: "+972541234567"},
		{name: "RFC 3339 with its own offset", row: `{"dest":1,"phone":972541234567,"message":"ack","server_date":"2024-07-30T19:40:54Z"}`,
			dest: "1", phone: "972541234567", text: "ack", at: summer, from: "+972541234567"},
		{name: "winter: Israel is UTC+2", row: `{"dest":1,"phone":972541234567,"message":"ack","server_date":"22:40:54 2024-01-30"}`,
			dest: "1", phone: "972541234567", text: "ack", at: time.Date(2024, 1, 30, 20, 40, 54, 0, time.UTC), from: "+972541234567"},
		{name: "an unreadable date", row: `{"dest":1,"phone":972541234567,"message":"ack","server_date":"yesterday"}`,
			dest: "1", phone: "972541234567", text: "ack", from: "+972541234567"},
		{name: "not a row", row: `"garbage"`, wantLeftOut: true},
	}
	for _, body := range []struct{ name, rows string }{
		{"rows as an object", `{"0":{"dest":1,"phone":972541234567,"message":"ack","server_date":"22:40:54 2024-07-30"}}`},
		{"rows as the one row", `{"dest":1,"phone":972541234567,"message":"ack","server_date":"22:40:54 2024-07-30"}`},
	} {
		t.Run(body.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.sim.RespondNext(yemotsim.Response{Code: 200, Body: `{"responseStatus":"OK","rows":` + body.rows + `}`})
			msgs, err := f.c.IncomingSMS(context.Background(), yemot.SMSQuery{Limit: 10})
			if err != nil || len(msgs) != 1 || msgs[0].Phone != "972541234567" || !msgs[0].At.Equal(summer) {
				t.Errorf("IncomingSMS = %+v, %v; want the one message", msgs, err)
			}
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.sim.RespondNext(yemotsim.Response{Code: 200, Body: `{"responseStatus":"OK","rows":[` + tt.row + `]}`})
			msgs, err := f.c.IncomingSMS(context.Background(), yemot.SMSQuery{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantLeftOut {
				if len(msgs) != 0 || f.logs.FilterMessageSnippet("cannot be read").Len() != 1 {
					t.Errorf("messages %+v; want none, and a warning", msgs)
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("messages %+v; want 1", msgs)
			}
			m := msgs[0]
			if m.Dest != tt.dest || m.Phone != tt.phone || m.Message != tt.text || !m.At.Equal(tt.at) {
				t.Errorf("read %+v; want dest %q phone %q message %q at %s", m, tt.dest, tt.phone, tt.text, tt.at)
			}
			if r := m.Reply(); r.From != tt.from || r.Text != tt.text || r.Provider != "yemot" || !strings.HasPrefix(r.ID, "yemot-sms-") {
				t.Errorf("reply %+v; want from %q", r, tt.from)
			}
		})
	}
}

// TestIncomingSMS reads the simulator's log: the newest first, limit
// honoured, the same IDs whether numbers come as ints or strings, and
// after a restart.
func TestIncomingSMS(t *testing.T) {
	fake := clock.NewFake(time.Date(2024, 7, 30, 19, 0, 0, 0, time.UTC))
	f := newFixtureWith(t, yemotsim.Config{Clock: fake}, func(c *yemot.Config) { c.Clock = fake })
	f.sim.ReceiveSMS("+972 52-234-5678", "ack", fake.Now().Add(-time.Minute))
	f.sim.ReceiveSMS("0523456789", "אישור", fake.Now())
	ctx := context.Background()
	msgs, err := f.c.IncomingSMS(ctx, yemot.SMSQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Message != "אישור" || msgs[1].Message != "ack" {
		t.Fatalf("messages %+v; want the two, newest first", msgs)
	}
	if r := msgs[1].Reply(); r.From != "+972522345678" || !r.At.Equal(fake.Now().Add(-time.Minute)) {
		t.Errorf("reply %+v; want from +972522345678 at %s", r, fake.Now().Add(-time.Minute))
	}
	one, err := f.c.IncomingSMS(ctx, yemot.SMSQuery{Limit: 1})
	if err != nil || len(one) != 1 || one[0].Message != "אישור" {
		t.Fatalf("limit 1: %+v, %v; want the newest only", one, err)
	}
	f.sim.NumbersAsStrings(true)
	restarted, err := yemot.New(yemot.Config{BaseURL: f.sim.URL(), Token: f.sim.Token()})
	if err != nil {
		t.Fatal(err)
	}
	again, err := restarted.IncomingSMS(ctx, yemot.SMSQuery{Limit: 10})
	if err != nil || len(again) != 2 {
		t.Fatalf("again: %+v, %v", again, err)
	}
	for i := range again {
		if again[i].Reply() != msgs[i].Reply() {
			t.Errorf("read again: %+v; first %+v", again[i].Reply(), msgs[i].Reply())
		}
	}
}

// TestReplies: the Acknowledger polls the log every interval, hands each
// new message on once, oldest first, hands again one that handle failed
// on, keeps going through poll errors with backoff, and returns when ctx
// ends.
func TestReplies(t *testing.T) {
	fake := clock.NewFake(time.Date(2024, 7, 30, 19, 0, 0, 0, time.UTC))
	f := newFixtureWith(t, yemotsim.Config{Clock: fake}, func(c *yemot.Config) { c.Clock, c.SMSAck = fake, true })
	ack, ok := f.c.Provider().(dispatch.Acknowledger)
	if !ok {
		t.Fatal("Provider() with SMSAck is not an Acknowledger")
	}
	if _, ok := newFixture(t, nil).c.Provider().(dispatch.Acknowledger); ok {
		t.Error("Provider() without SMSAck is an Acknowledger")
	}
	// Received in another order than they were sent: the log goes by time.
	f.sim.ReceiveSMS("0523456789", "אישור", fake.Now().Add(-30*time.Second))
	f.sim.ReceiveSMS("+972522345678", "ack", fake.Now().Add(-time.Minute))

	var mu sync.Mutex
	var handed []string
	failOnce := map[string]bool{"אישור": true}
	handle := func(_ context.Context, r dispatch.Reply) error {
		mu.Lock()
		defer mu.Unlock()
		handed = append(handed, r.Text+" from "+r.From+" at "+r.At.UTC().Format("15:04:05"))
		if failOnce[r.Text] {
			failOnce[r.Text] = false
			return errors.New("engine busy")
		}
		return nil
	}
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := handed
		handed = nil
		return out
	}
	polls := func() int {
		n := 0
		for _, r := range f.sim.Requests() {
			if r.Command == "GetSmsIncomingLog" {
				n++
			}
		}
		return n
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := startCall(t, fake, func() (dispatch.Result, error) {
		return dispatch.Result{}, ack.Replies(ctx, 10*time.Second, handle)
	})
	expect := func(what string, wantPolls int, want ...string) {
		t.Helper()
		if r.quiet() {
			t.Fatalf("%s: Replies returned", what)
		}
		got := take()
		if strings.Join(got, "\n") != strings.Join(want, "\n") || polls() != wantPolls {
			t.Fatalf("%s: %d polls, handed\n%s\nwant %d polls, handed\n%s", what, polls(), strings.Join(got, "\n"), wantPolls, strings.Join(want, "\n"))
		}
	}
	expect("first poll", 1, "ack from +972522345678 at 18:59:00", "אישור from +972523456789 at 18:59:30")
	fake.Advance(10 * time.Second)
	expect("the failed one again", 2, "אישור from +972523456789 at 18:59:30")
	fake.Advance(10 * time.Second)
	expect("nothing new", 3)
	f.sim.ReceiveSMS("+972522345678", "on it", time.Time{})
	fake.Advance(10 * time.Second)
	expect("a new one", 4, "on it from +972522345678 at 19:00:20")

	// Two failed polls: the next after 20s, then after 40s.
	f.sim.FailNext(2, 503)
	f.sim.ReceiveSMS("+972522345678", "still on it", time.Time{})
	fake.Advance(10 * time.Second)
	expect("failed poll", 5)
	fake.Advance(19 * time.Second)
	expect("19s after a failure", 5)
	fake.Advance(time.Second)
	expect("20s after a failure: failed again", 6)
	fake.Advance(39 * time.Second)
	expect("39s after the second failure", 6)
	fake.Advance(time.Second)
	expect("40s after the second failure", 7, "still on it from +972522345678 at 19:00:30")
	fake.Advance(10 * time.Second)
	expect("back to the interval", 8)
	if n := f.logs.FilterMessageSnippet("cannot read the incoming text messages").Len(); n != 2 {
		t.Errorf("%d poll failures logged; want 2", n)
	}

	cancel()
	select {
	case out := <-r.done:
		if out.err != nil {
			t.Errorf("Replies returned %v when ctx ended; want nil", out.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Replies did not return when ctx ended")
	}
}

// TestSimulatedAckBySMS: the simulator's environment leaves YEMOT_SMS_ACK
// off unless asked; asked, the worker's Yemot provider hears text
// messages.
func TestSimulatedAckBySMS(t *testing.T) {
	sim := yemot.Spec{}.Simulate(dispatch.SimOptions{}).(*yemot.Sim)
	t.Cleanup(sim.Close)
	for _, on := range []bool{false, true} {
		sim.AckBySMS(on)
		env := sim.Env()
		setup, err := yemot.Spec{}.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		p, err := setup.New(context.Background(), dispatch.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.(dispatch.Acknowledger); ok != on {
			t.Errorf("AckBySMS(%v): the provider is an Acknowledger: %v", on, ok)
		}
		if _, ok := p.(dispatch.AnswerChecker); !ok {
			t.Errorf("AckBySMS(%v): the simulated provider lost answered detection", on)
		}
	}
}
