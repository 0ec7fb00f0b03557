package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// alertJSON is the i-th alert of a run. The alerts take turns over three of
// the example policies, each its own escalation (distinct group labels):
// database (IoTCall, then a rotation), core-outage (a Yemot broadcast with a
// tzintuk) and the catch-all default (IoTCall). payments is left out: its
// CCAI steps are held to CCAI's documented 10 requests a second, which would
// measure CCAI's limit, not escalator.
func alertJSON(run string, i int, at time.Time) (id string, data []byte) {
	return alertEvent(run, i, at, "firing")
}

// alertEvent is alertJSON with the status given (firing or resolved).
func alertEvent(run string, i int, at time.Time, status string) (id string, data []byte) {
	id = fmt.Sprintf("%s-%d", run, i)
	var labels, severity string
	switch i % 3 {
	case 0:
		labels, severity = fmt.Sprintf(`{"team":"db","cluster":"db-%s","alertname":"ReplicationLag"}`, id), "critical"
	case 1:
		labels, severity = fmt.Sprintf(`{"service":"core-%s","alertname":"CoreDown"}`, id), "critical"
	default:
		labels, severity = fmt.Sprintf(`{"host":"web-%s","alertname":"DiskFull"}`, id), "warning"
	}
	data = fmt.Appendf(nil, `{"id":%q,"status":%q,"summary":"bench alert %d","severity":%q,"labels":%s,"source":"bench","at":%q}`,
		id, status, i, severity, labels, at.UTC().Format(time.RFC3339Nano))
	return id, data
}

// benchAlert is the i-th alert of run for one of the bench-only policies
// (labels bench=<policy label> plus extra).
func benchAlert(run string, i int, at time.Time, labels string) (id string, data []byte) {
	id = fmt.Sprintf("%s-%d", run, i)
	data = fmt.Appendf(nil, `{"id":%q,"status":"firing","summary":"bench alert %d","severity":"critical","labels":%s,"source":"bench","at":%q}`,
		id, i, labels, at.UTC().Format(time.RFC3339Nano))
	return id, data
}

// publisher publishes alerts without waiting for each ack (open loop).
type publisher struct {
	js     jetstream.JetStream
	failed atomic.Int64
}

func newPublisher(nc *nats.Conn) (*publisher, error) {
	p := &publisher{}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { p.failed.Add(1) }))
	if err != nil {
		return nil, err
	}
	p.js = js
	return p, nil
}

// publish sends one message with a Nats-Msg-Id; a full window of pending
// acks makes it wait (back-pressure), never drop.
func (p *publisher) publish(subject, id string, data []byte) error {
	for {
		_, err := p.js.PublishAsync(subject, data, jetstream.WithMsgID(id))
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return err
		}
		// The window stayed full past the client's stall wait (a server
		// busy with the worker's own writes): wait for it to drain, then
		// send again — a long run must not stop on back-pressure (a
		// 1,000,000-escalation ended phase did at 100k).
		select {
		case <-p.js.PublishAsyncComplete():
		case <-time.After(time.Second):
		}
	}
}

// flush waits until every published message is acked or failed; any
// failure is an error (the figures would count alerts never stored).
func (p *publisher) flush(ctx context.Context) error {
	select {
	case <-p.js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	if n := p.failed.Load(); n > 0 {
		return fmt.Errorf("%d publishes were not acknowledged", n)
	}
	return nil
}

// pace calls send(i) for i in [0, n) at rate per second (0: as fast as
// possible), on an open-loop schedule: a late send does not delay the next
// ones. It returns each alert's scheduled time.
func pace(ctx context.Context, n int, rate float64, send func(i int, at time.Time) error) ([]time.Time, error) {
	sched := make([]time.Time, n)
	start := time.Now()
	for i := range n {
		at := time.Now()
		if rate > 0 {
			at = start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return nil, ctx.Err()
				}
			}
		}
		sched[i] = at
		if err := send(i, at); err != nil {
			return nil, err
		}
	}
	return sched, nil
}

// watcher follows the outcome events of the worker over core NATS.
type watcher struct {
	sub *nats.Subscription

	mu sync.Mutex
	// per alert id
	started    map[string]time.Time
	dispatched map[string]bool
	// progressed: alerts whose escalation moved past its first step
	// (a later step or loop placed, skipped or exhausted).
	progressed map[string]time.Time
	tallies    map[string]*tally
	// escalations: the escalation id of each alert that started one, for
	// the alerts of run idsOf only (the ops phase acknowledges them).
	idsOf       string
	escalations map[string]string
	// groupedSeen: grouped outcomes counted, by escalation and its alert
	// count after the join (a grouped outcome names the escalation's first
	// alert, not the one that joined; the count tells repeats apart).
	groupedSeen map[string]bool
	// acked, resolved: escalations (by alert id) acknowledged or resolved.
	acked, resolved map[string]bool
	waiters         []waiter
	// only, when set, limits the watcher to these alert ids.
	only map[string]time.Time
}

type waiter struct {
	cond func(*watcher) bool
	ch   chan struct{}
}

type outcomeMsg struct {
	EscalationID string `json:"escalation_id"`
	AlertID      string `json:"alert_id"`
	Event        string `json:"event"`
	Step         int    `json:"step"`
	Loop         int    `json:"loop"`
	Alerts       int    `json:"alerts"`
}

func watch(nc *nats.Conn) (*watcher, error) {
	w := newWatcher()
	sub, err := nc.Subscribe(natsx.SubjectOutcomes, w.on)
	if err != nil {
		return nil, err
	}
	// Never drop an outcome for being slow: the counts depend on all.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, err
	}
	w.sub = sub
	return w, nil
}

func (w *watcher) on(m *nats.Msg) { w.record(m.Data, time.Now()) }

func newWatcher() *watcher {
	return &watcher{started: map[string]time.Time{}, dispatched: map[string]bool{}, progressed: map[string]time.Time{}, tallies: map[string]*tally{},
		escalations: map[string]string{}, groupedSeen: map[string]bool{}, acked: map[string]bool{}, resolved: map[string]bool{}}
}

// replayWatch follows the ESCALATIONS stream from since on, timing each
// outcome by when the stream stored it: nothing published before the
// subscription is missed. stop ends it.
func replayWatch(ctx context.Context, nc *nats.Conn, since time.Time, only map[string]time.Time) (w *watcher, stop func(), err error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, nil, err
	}
	cons, err := js.OrderedConsumer(ctx, natsx.StreamOutcomes, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("follow the outcome stream: %w", err)
	}
	w = newWatcher()
	w.only = only
	cc, err := cons.Consume(func(m jetstream.Msg) {
		at := time.Now()
		if md, err := m.Metadata(); err == nil {
			at = md.Timestamp
		}
		w.record(m.Data(), at)
	})
	if err != nil {
		return nil, nil, err
	}
	return w, cc.Stop, nil
}

func (w *watcher) record(data []byte, now time.Time) {
	var o outcomeMsg
	if err := json.Unmarshal(data, &o); err != nil {
		return
	}
	if w.only != nil {
		if _, ok := w.only[o.AlertID]; !ok {
			return
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.tallies[runOf(o.AlertID)]
	if t == nil {
		t = &tally{}
		w.tallies[runOf(o.AlertID)] = t
	}
	switch {
	case o.Event == "started":
		if _, ok := w.started[o.AlertID]; !ok {
			w.started[o.AlertID] = now
			t.started++
			if w.idsOf != "" && runOf(o.AlertID) == w.idsOf {
				w.escalations[o.AlertID] = o.EscalationID
			}
		}
	case o.Event == "grouped":
		if k := fmt.Sprintf("%s/%d", o.EscalationID, o.Alerts); !w.groupedSeen[k] {
			w.groupedSeen[k] = true
			t.grouped++
		}
	case o.Event == "unmatched":
		t.unmatched++
	case o.Event == "acknowledged":
		if !w.acked[o.AlertID] {
			w.acked[o.AlertID] = true
			t.acknowledged++
		}
	case o.Event == "resolved":
		if !w.resolved[o.AlertID] {
			w.resolved[o.AlertID] = true
			t.resolved++
		}
	case o.Step == 0 && o.Loop == 0 && (o.Event == "dispatched" || o.Event == "dispatch_failed"):
		if !w.dispatched[o.AlertID] {
			w.dispatched[o.AlertID] = true
			t.dispatched++
		}
	case (o.Step > 0 || o.Loop > 0) && (o.Event == "dispatched" || o.Event == "dispatch_failed" || o.Event == "skipped") ||
		o.Event == "exhausted":
		if _, ok := w.progressed[o.AlertID]; !ok {
			w.progressed[o.AlertID] = now
			t.progressed++
		}
	}
	w.wake()
}

func (w *watcher) wake() {
	kept := w.waiters[:0]
	for _, wt := range w.waiters {
		if wt.cond(w) {
			close(wt.ch)
		} else {
			kept = append(kept, wt)
		}
	}
	w.waiters = kept
}

// wait returns when cond holds (checked on every outcome), or false at the
// deadline.
func (w *watcher) wait(ctx context.Context, timeout time.Duration, cond func(*watcher) bool) bool {
	w.mu.Lock()
	if cond(w) {
		w.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	w.waiters = append(w.waiters, waiter{cond, ch})
	w.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// tally counts one run's escalations (alert ids "<run>-<i>").
type tally struct {
	started, dispatched, progressed int
	// grouped counts grouped outcomes (an alert joining its group's
	// escalation), unmatched the alerts no policy took; acknowledged and
	// resolved the escalations that ended so.
	grouped, unmatched, acknowledged, resolved int
}

func runOf(alertID string) string {
	if i := strings.LastIndexByte(alertID, '-'); i > 0 {
		return alertID[:i]
	}
	return alertID
}

// count returns run's tally; the caller holds w.mu (wait conditions do).
func (w *watcher) count(run string) tally {
	if t := w.tallies[run]; t != nil {
		return *t
	}
	return tally{}
}

func (w *watcher) counts(run string) tally {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count(run)
}

// firstRequests records when the simulators first saw a request of each
// alert's escalation (AlertHeader).
type firstRequests struct {
	mu sync.Mutex
	at map[string]time.Time
	// held: alerts whose first request is held (not answered) until
	// released, for the ops phase to read the worker's counts while its
	// first call is being placed.
	held map[string]*held
}

type held struct{ arrived, release chan struct{} }

// hold makes the simulators hold id's first request: arrived is closed when
// it comes, and the simulator answers once release is closed.
func (f *firstRequests) hold(id string) *held {
	h := &held{arrived: make(chan struct{}), release: make(chan struct{})}
	f.mu.Lock()
	if f.held == nil {
		f.held = map[string]*held{}
	}
	f.held[id] = h
	f.mu.Unlock()
	return h
}

func (f *firstRequests) observe(r *http.Request) {
	id := r.Header.Get(AlertHeader)
	if id == "" {
		return
	}
	now := time.Now()
	f.mu.Lock()
	var h *held
	if _, ok := f.at[id]; !ok {
		f.at[id] = now
		h = f.held[id]
		delete(f.held, id)
	}
	f.mu.Unlock()
	if h != nil {
		close(h.arrived)
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
	}
}

func (f *firstRequests) get(id string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.at[id]
	return t, ok
}
