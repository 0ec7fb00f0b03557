package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/cli"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/outcome"
)

// cable is a TCP proxy in front of the worker that the test can cut: the
// network between the operator and the worker, not a fake of the API.
type cable struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newCable(t *testing.T, target string) *cable {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cable{l: l, target: target}
	t.Cleanup(func() { l.Close(); c.setCut(true) })
	go c.serve()
	return c
}

func (c *cable) url() string { return "http://" + c.l.Addr().String() }

func (c *cable) serve() {
	for {
		in, err := c.l.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		if c.cut {
			c.mu.Unlock()
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", c.target)
		if err != nil {
			c.mu.Unlock()
			in.Close()
			continue
		}
		c.conns = append(c.conns, in, out)
		c.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); out.Close() }()
		go func() { _, _ = io.Copy(in, out); in.Close() }()
	}
}

// setCut cuts the cable (every connection through it closes, new ones are
// refused) or mends it.
func (c *cable) setCut(cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = cut
	if cut {
		for _, conn := range c.conns {
			conn.Close()
		}
		c.conns = nil
	}
}

// tailing is escalator tail running in the background.
type tailing struct {
	stdout, stderr *lines
	stop           context.CancelFunc
	code           chan int
}

func startTail(t *testing.T, env func(string) string, args ...string) *tailing {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	tl := &tailing{stdout: newLines(), stderr: newLines(), stop: cancel, code: make(chan int, 1)}
	go func() { tl.code <- run(ctx, append([]string{"tail"}, args...), tl.stdout, tl.stderr, env) }()
	t.Cleanup(cancel)
	return tl
}

// end stops the tail as Ctrl-C does and returns its exit code.
func (tl *tailing) end(t *testing.T) int {
	t.Helper()
	tl.stop()
	select {
	case code := <-tl.code:
		return code
	case <-time.After(waitFor):
		t.Fatal("tail did not end")
		return -1
	}
}

// TestTail: tail shows each outcome as it happens, one line each; when the
// connection drops, it reconnects and resumes where it was — what happened
// meanwhile shows once, nothing twice; Ctrl-C ends it with 0.
func TestTail(t *testing.T) {
	old := tailOptions
	tailOptions = cli.FollowOptions{Retry: 100 * time.Millisecond}
	t.Cleanup(func() { tailOptions = old })
	w := startWorker(t, "")
	wire := newCable(t, w.app.HTTPAddr())
	env := w.env("ESCALATOR_SERVER=" + wire.url())

	// From the stream's end: the worker's stream may open its reader just
	// after answering, and the test publishes at once.
	tl := startTail(t, env, "--after", strconv.FormatUint(w.lastEvent(t), 10))
	tl.stderr.wait(t, "Following the outcomes at "+wire.url()+" (Ctrl-C ends).")
	first := w.fire(t, "db-primary-down", "db", outcome.Dispatched)
	tl.stdout.wait(t, first.ShortCode, "started", "db-primary-down: policy db; db-primary-down is down")
	tl.stdout.wait(t, first.ShortCode, "dispatched", "db-primary-down: step 1 via iotcall db-first: called aiko +818012345678")

	// The cable is cut; meanwhile an acknowledgement and a new alert.
	wire.setCut(true)
	tl.stderr.wait(t, "escalator tail: ", "reconnecting…")
	w.must(t, "ack", first.ShortCode, "--by", "aiko", "--comment", "mine")
	w.await(t, func(o outcome.Outcome) bool { return o.Event == outcome.Acknowledged })
	second := w.fire(t, "web-5xx", "web", outcome.Dispatched)
	if strings.Contains(tl.stdout.String(), "acknowledged") {
		t.Fatalf("tail saw through a cut cable:\n%s", tl.stdout)
	}
	wire.setCut(false)
	tl.stderr.wait(t, "escalator tail: reconnected at ", "; resuming after event ")
	tl.stdout.wait(t, first.ShortCode, "acknowledged", `db-primary-down: by aiko via api; "mine"`)
	tl.stdout.wait(t, second.ShortCode, "dispatched", "web-5xx: step 1 via iotcall web-oncall: called mira")
	// And live again.
	w.must(t, "resolve", "web-5xx")
	tl.stdout.wait(t, second.ShortCode, "resolved", "web-5xx: by ")
	for _, ev := range []string{"started", "dispatched", "acknowledged"} {
		if n := tl.stdout.count(first.ShortCode, ev); n != 1 {
			t.Errorf("%d lines of %s's %s, want 1:\n%s", n, first.ShortCode, ev, tl.stdout)
		}
	}
	if n := strings.Count(strings.TrimSpace(tl.stdout.String()), "\n") + 1; n != 6 {
		t.Errorf("%d lines, want 6 (started, dispatched, acknowledged, started, dispatched, resolved):\n%s", n, tl.stdout)
	}
	if code := tl.end(t); code != 0 {
		t.Errorf("tail ended with %d, want 0:\n%s", code, tl.stderr)
	}
}

// lastEvent is the outcome stream's last sequence: the last event id.
func (w *worker) lastEvent(t *testing.T) uint64 {
	t.Helper()
	js, err := jetstream.New(w.nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), natsx.StreamOutcomes)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// TestTailOneEscalation: --escalation keeps one escalation's outcomes;
// --format json writes each outcome's JSON with its event id; an unknown
// escalation or a wrong token ends it at once, exit 1.
func TestTailOneEscalation(t *testing.T) {
	w := startWorker(t, "")
	db := w.fire(t, "db-primary-down", "db", outcome.Dispatched)
	// Live from now (no --after): the stream's reader opens within the
	// time another alert takes to be dispatched.
	tl := startTail(t, w.env(), "--escalation", db.ShortCode, "--format", "json")
	tl.stderr.wait(t, "Following the outcomes of escalation "+db.ShortCode)
	w.fire(t, "web-5xx", "web", outcome.Dispatched)
	w.must(t, "ack", "web-5xx")
	w.must(t, "ack", db.ShortCode)
	tl.stdout.wait(t, `"event":"acknowledged"`)
	if code := tl.end(t); code != 0 {
		t.Errorf("tail ended with %d", code)
	}
	out := strings.TrimSpace(tl.stdout.String())
	if strings.Count(out, "\n") != 0 || strings.Contains(out, "web-5xx") {
		t.Fatalf("want the one acknowledgement of %s:\n%s", db.ShortCode, out)
	}
	var line struct {
		ID      uint64          `json:"id"`
		Outcome outcome.Outcome `json:"outcome"`
	}
	if err := json.Unmarshal([]byte(out), &line); err != nil || line.ID == 0 || line.Outcome.EscalationID != db.EscalationID {
		t.Errorf("json line %s: %v %+v", out, err, line)
	}

	// Resuming after an id (--after) replays what followed it.
	tl = startTail(t, w.env(), "--after", "1")
	tl.stdout.wait(t, db.ShortCode, "acknowledged")
	tl.stdout.wait(t, "web-5xx", "acknowledged")
	if n := tl.stdout.count(db.ShortCode, "started"); n != 0 {
		t.Errorf("--after 1 repeated event 1:\n%s", tl.stdout)
	}
	tl.end(t)

	for _, tt := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--escalation", "no-such-alert"}, "escalator tail: no escalation no-such-alert (an id, a short code or an alert id); escalator ls --all lists them\n"},
		{[]string{"ESCALATOR_TOKEN=wrong"}, nil, "escalator tail: the worker at " + w.url + " refused the token"},
	} {
		r := cmd(t, w.env(tt.env...), append([]string{"tail"}, tt.args...)...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, tt.want) {
			t.Errorf("tail %v: %s", tt.args, r)
		}
	}
}
