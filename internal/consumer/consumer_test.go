package consumer

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/metrics"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
)

const waitFor = 10 * time.Second

type harness struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	m       *metrics.Alerts
	got     chan Delivery
	dead    chan *nats.Msg
	fail    atomic.Bool
	failed  chan struct{}
	calls   atomic.Int64
	stop    context.CancelFunc
	stopped chan error
}

func start(t *testing.T, topo natsx.Topology) *harness {
	t.Helper()
	s := natstest.RunServer(t, "")
	nc, js := natstest.Connect(t, s)
	ctx := context.Background()
	if err := natsx.Ensure(ctx, js, topo); err != nil {
		t.Fatal(err)
	}
	h := &harness{nc: nc, js: js, m: metrics.NewAlerts(prometheus.NewRegistry()),
		got: make(chan Delivery, 100), failed: make(chan struct{}, 100), dead: make(chan *nats.Msg, 100), stopped: make(chan error, 1)}
	if _, err := nc.ChanSubscribe(natsx.SubjectDead, h.dead); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{
		JS: js, Workers: 1, Topology: topo, Metrics: h.m, MaxEventSize: 1024,
		RedeliveryDelay: func(uint64) time.Duration { return 10 * time.Millisecond },
		Handler: HandlerFunc(func(ctx context.Context, d Delivery) error {
			h.calls.Add(1)
			if h.fail.Load() {
				h.failed <- struct{}{}
				return errors.New("engine unavailable")
			}
			h.got <- d
			return nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	h.stop = cancel
	go func() { h.stopped <- c.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		<-h.stopped
	})
	return h
}

func (h *harness) publish(t *testing.T, subject, data string, opts ...jetstream.PublishOpt) *jetstream.PubAck {
	t.Helper()
	ack, err := h.js.Publish(context.Background(), subject, []byte(data), opts...)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return ack
}

func (h *harness) next(t *testing.T) Delivery {
	t.Helper()
	select {
	case d := <-h.got:
		return d
	case <-time.After(waitFor):
		t.Fatal("no alert reached the handler")
	}
	return Delivery{}
}

func (h *harness) nextDead(t *testing.T) *nats.Msg {
	t.Helper()
	select {
	case m := <-h.dead:
		return m
	case <-time.After(waitFor):
		t.Fatal("nothing was dead-lettered")
	}
	return nil
}

func TestAccepted(t *testing.T) {
	h := start(t, natsx.Topology{})
	h.publish(t, "alerts.prometheus", `{"status":"firing","labels":{"alertname":"DBDown","severity":"critical"},"summary":"db down","team":"dba"}`)
	d := h.next(t)
	if d.Source != "prometheus" || d.Event.Status != alert.Firing || d.Event.Severity != "critical" {
		t.Fatalf("delivery = %+v", d)
	}
	if d.Event.ID != alert.Fingerprint(map[string]string{"alertname": "DBDown", "severity": "critical"}) {
		t.Fatalf("id = %q, want the labels' fingerprint", d.Event.ID)
	}
	if string(d.Event.Extra["team"]) != `"dba"` {
		t.Fatalf("unknown field not kept: %v", d.Event.Extra)
	}
	// The counter moves after the handler returns: handle one more event
	// (one worker: in order) so the first is fully done.
	h.publish(t, "alerts.other", `{"id":"sentinel","status":"firing"}`)
	h.next(t)
	if got := testutil.ToFloat64(h.m.Accepted.WithLabelValues("prometheus")); got != 1 {
		t.Fatalf("accepted = %v, want 1", got)
	}
}

func TestDuplicates(t *testing.T) {
	h := start(t, natsx.Topology{})
	ev := `{"id":"db-1","status":"firing","at":"2026-11-23T03:00:00Z"}`
	// Without a Nats-Msg-Id: the consumer recognises the retry.
	h.publish(t, "alerts.nats", ev)
	h.publish(t, "alerts.nats", ev)
	// With one: the stream itself refuses the second copy.
	h.publish(t, "alerts.nats", `{"id":"db-2","status":"firing"}`, jetstream.WithMsgID("m-1"))
	if ack := h.publish(t, "alerts.nats", `{"id":"db-2","status":"firing"}`, jetstream.WithMsgID("m-1")); !ack.Duplicate {
		t.Fatal("stream did not flag the Nats-Msg-Id retry as duplicate")
	}
	// A flapping alert is not a retry: firing, resolved, firing again.
	h.publish(t, "alerts.nats", `{"id":"db-3","status":"firing"}`)
	h.publish(t, "alerts.nats", `{"id":"db-3","status":"resolved"}`)
	h.publish(t, "alerts.nats", `{"id":"db-3","status":"firing"}`)
	// An acknowledgement repeated is one again, not a retry: the first may
	// have timed out (ack_timeout) and paged again meanwhile.
	h.publish(t, "alerts.nats", `{"id":"db-4","status":"acknowledged","by":"aiko"}`)
	h.publish(t, "alerts.nats", `{"id":"db-4","status":"acknowledged","by":"aiko"}`)
	want := []string{"db-1 firing", "db-2 firing", "db-3 firing", "db-3 resolved", "db-3 firing", "db-4 acknowledged", "db-4 acknowledged"}
	for _, w := range want {
		d := h.next(t)
		if got := d.Event.ID + " " + string(d.Event.Status); got != w {
			t.Fatalf("got %q, want %q", got, w)
		}
	}
	if got := testutil.ToFloat64(h.m.Duplicate.WithLabelValues("nats")); got != 1 {
		t.Fatalf("duplicate = %v, want 1", got)
	}
	if n := h.calls.Load(); n != int64(len(want)) {
		t.Fatalf("handler called %d times, want %d", n, len(want))
	}
}

func TestDeadLetters(t *testing.T) {
	h := start(t, natsx.Topology{})
	tests := []struct {
		name, data, reason, errPart string
	}{
		{"not json", `db is down`, alert.ReasonNotJSON, "not valid JSON"},
		{"array", `[1,2]`, alert.ReasonNotJSON, "JSON object"},
		{"wrong type", `{"id":"x","status":"firing","labels":{"a":1}}`, alert.ReasonBadField, "labels: must be an object of strings"},
		{"missing status", `{"id":"x"}`, alert.ReasonMissingStatus, "status: is required"},
		{"unknown status", `{"id":"x","status":"on fire"}`, alert.ReasonUnknownStatus, `unknown status "on fire"`},
		{"no id no labels", `{"status":"firing"}`, alert.ReasonMissingID, "id: is required"},
		{"bad id", `{"id":"a\u0000b","status":"firing"}`, alert.ReasonBadID, "control characters"},
		{"bad time", `{"id":"x","status":"firing","at":"yesterday"}`, alert.ReasonBadField, "at: must be an RFC 3339 time"},
		{"too large", `{"id":"x","status":"firing","summary":"` + strings.Repeat("a", 2000) + `"}`, alert.ReasonTooLarge, "over the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.publish(t, "alerts.grafana", tt.data)
			m := h.nextDead(t)
			if m.Subject != "escalator.dead."+tt.reason {
				t.Fatalf("subject %q, want escalator.dead.%s", m.Subject, tt.reason)
			}
			if string(m.Data) != tt.data {
				t.Fatalf("dead letter data %q, want the original bytes", m.Data)
			}
			if m.Header.Get(HeaderReason) != tt.reason || m.Header.Get(HeaderSubject) != "alerts.grafana" ||
				!strings.Contains(m.Header.Get(HeaderError), tt.errPart) {
				t.Fatalf("headers %v", m.Header)
			}
		})
	}
	if h.calls.Load() != 0 {
		t.Fatal("handler saw invalid input")
	}
	if got := testutil.ToFloat64(h.m.Rejected.WithLabelValues("grafana", alert.ReasonBadField)); got != 2 {
		t.Fatalf("rejected{bad_field} = %v, want 2", got)
	}
	// The worker is still running and still accepts good input.
	h.publish(t, "alerts.grafana", `{"id":"ok","status":"firing"}`)
	h.next(t)
	// Everything was acknowledged: nothing is left to redeliver.
	info, err := h.js.Consumer(context.Background(), natsx.StreamAlerts, natsx.ConsumerAlerts)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := info.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ci.NumPending != 0 || ci.NumRedelivered != 0 {
		t.Fatalf("consumer pending=%d redelivered=%d, want 0", ci.NumPending, ci.NumRedelivered)
	}
	// Dead letters are kept in their own stream.
	st, err := h.js.Stream(context.Background(), natsx.StreamDead)
	if err != nil {
		t.Fatal(err)
	}
	si, _ := st.Info(context.Background())
	if si.State.Msgs != uint64(len(tests)) {
		t.Fatalf("dead stream has %d messages, want %d", si.State.Msgs, len(tests))
	}
}

func TestHandlerFailuresEndInDeadLetter(t *testing.T) {
	h := start(t, natsx.Topology{MaxDeliver: 3})
	h.fail.Store(true)
	h.publish(t, "alerts.nats", `{"id":"db","status":"firing"}`)
	m := h.nextDead(t)
	if m.Subject != "escalator.dead."+ReasonHandlerFailed || m.Header.Get(HeaderDelivered) != "3" ||
		m.Header.Get(HeaderError) != "engine unavailable" {
		t.Fatalf("dead letter %s %v", m.Subject, m.Header)
	}
	if n := h.calls.Load(); n != 3 {
		t.Fatalf("handler called %d times, want 3 (MaxDeliver)", n)
	}
}

func TestRetryThenSuccess(t *testing.T) {
	h := start(t, natsx.Topology{MaxDeliver: 5})
	h.fail.Store(true)
	h.publish(t, "alerts.nats", `{"id":"db","status":"firing"}`)
	// Let it fail once, then recover.
	select {
	case <-h.failed:
	case <-time.After(waitFor):
		t.Fatal("handler not called")
	}
	h.fail.Store(false)
	if d := h.next(t); d.NumDelivered < 2 {
		t.Fatalf("delivery %d, want a redelivery", d.NumDelivered)
	}
}

// TestShutdownBoundedByGrace: handlers stuck past the grace period (say,
// retrying a publish while NATS is away) are cancelled, even when the fetcher
// is itself held up handing them the next message.
func TestShutdownBoundedByGrace(t *testing.T) {
	s := natstest.RunServer(t, "")
	_, js := natstest.Connect(t, s)
	ctx := context.Background()
	topo := natsx.Topology{}
	if err := natsx.Ensure(ctx, js, topo); err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{}, 10)
	c, err := New(Config{
		JS: js, Workers: 1, Topology: topo, Metrics: metrics.NewAlerts(prometheus.NewRegistry()), Grace: 100 * time.Millisecond,
		Handler: HandlerFunc(func(ctx context.Context, d Delivery) error {
			entered <- struct{}{}
			<-ctx.Done() // stuck until cancelled
			return ctx.Err()
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		if _, err := js.Publish(ctx, "alerts.nats", []byte(`{"id":"`+id+`","status":"firing"}`)); err != nil {
			t.Fatal(err)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- c.Run(rctx) }()
	select {
	case <-entered:
	case <-time.After(waitFor):
		t.Fatal("no alert reached the handler")
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(waitFor):
		t.Fatal("Run did not return after the grace period: a stuck handler holds the shutdown")
	}
}

// TestShutdownBoundedByGraceWithNATSDown: with the server gone the
// iterator's drain cannot finish (the server never confirms it); Run still
// returns once the grace period is over, not after the connection's drain
// or reconnect timeouts.
func TestShutdownBoundedByGraceWithNATSDown(t *testing.T) {
	s := natstest.RunServer(t, "")
	_, js := natstest.Connect(t, s)
	ctx := context.Background()
	topo := natsx.Topology{}
	if err := natsx.Ensure(ctx, js, topo); err != nil {
		t.Fatal(err)
	}
	handled := make(chan struct{}, 10)
	const grace = 100 * time.Millisecond
	c, err := New(Config{
		JS: js, Workers: 1, Topology: topo, Metrics: metrics.NewAlerts(prometheus.NewRegistry()), Grace: grace,
		Handler: HandlerFunc(func(ctx context.Context, d Delivery) error {
			handled <- struct{}{}
			return nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "alerts.nats", []byte(`{"id":"a","status":"firing"}`)); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- c.Run(rctx) }()
	select {
	case <-handled:
	case <-time.After(waitFor):
		t.Fatal("no alert reached the handler")
	}
	s.Shutdown()
	s.WaitForShutdown()
	cancel()
	// Generous against a slow machine, well short of the drain timeout.
	const bound = grace + 2*time.Second
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(bound):
		t.Fatalf("Run did not return within %v of the stop with NATS down", bound)
	}
}

// TestDeletedConsumerStopsRun: a consumer deleted under a running worker
// (`nats consumer rm`) ends Run with the reason, instead of a worker that
// looks alive and takes nothing.
func TestDeletedConsumerStopsRun(t *testing.T) {
	h := start(t, natsx.Topology{})
	h.publish(t, "alerts.test", `{"id":"a1","status":"firing"}`)
	h.next(t) // running
	if err := h.js.DeleteConsumer(context.Background(), natsx.StreamAlerts, natsx.ConsumerAlerts); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-h.stopped:
		h.stopped <- err // for the cleanup
		if err == nil || !strings.Contains(err.Error(), "consumer deleted") {
			t.Fatalf("Run returned %v, want the consumer deleted", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Run went on with its consumer deleted")
	}
}
