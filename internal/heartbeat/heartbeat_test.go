package heartbeat

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/natsx"
)

// A missed deadline raises exactly one firing alert, with the monitor's
// labels and summary, at the deadline; a ping resolves it; a deadline
// message that fires again changes nothing.
func TestMissedDeadlineRaisesOnceAndAPingResolves(t *testing.T) {
	t.Parallel()
	const every = 2 * time.Second
	g := newRig(t, monitor("nightly-backup", every))
	w := g.start(nil, all)
	loaded := g.waitState("nightly-backup", "loaded", func(*record) bool { return true })

	fired := g.nextAlert()
	want := loaded.Since.Add(every)
	if fired.ev.ID != "heartbeat/nightly-backup" || fired.ev.Status != alert.Firing || !fired.ev.At.Equal(want) {
		t.Fatalf("first alert: %s %s at %s, want heartbeat/nightly-backup firing at %s", fired.ev.ID, fired.ev.Status, fired.ev.At, want)
	}
	if l := fired.ev.Labels; l["heartbeat"] != "nightly-backup" || l["team"] != "db" || l["service"] != "backup" {
		t.Errorf("labels = %v, want the monitor's plus heartbeat=nightly-backup", l)
	}
	if fired.ev.Summary != "nightly-backup has not reported" || fired.ev.Source != "heartbeat" {
		t.Errorf("summary %q, source %q", fired.ev.Summary, fired.ev.Source)
	}
	if fired.ev.Annotations["last_ping"] != "never" {
		t.Errorf("annotations = %v, want last_ping never", fired.ev.Annotations)
	}
	if wantID := "heartbeat/nightly-backup/firing/" + want.UTC().Format(time.RFC3339Nano); fired.msgID != wantID {
		t.Errorf("Nats-Msg-Id = %q, want %q", fired.msgID, wantID)
	}
	missed := g.waitState("nightly-backup", "firing", (*record).firing)
	if !missed.Missed.Equal(want) {
		t.Errorf("state missed %s, want %s", missed.Missed, want)
	}

	// The deadline fires again (a late duplicate): nothing new.
	g.publishDue("nightly-backup", want)
	g.handled(natsx.StreamHeartbeatTimers, natsx.ConsumerHeartbeatDue)
	g.noAlert()
	if n := counter(w.rt.m.missed.WithLabelValues("nightly-backup")); n != 1 {
		t.Errorf("escalator_heartbeats_missed_total = %v, want 1", n)
	}

	pingAt, _ := g.pingAt("nightly-backup")
	res := g.nextAlert()
	if res.ev.ID != "heartbeat/nightly-backup" || res.ev.Status != alert.Resolved || !res.ev.At.Equal(pingAt) {
		t.Fatalf("second alert: %s %s at %s, want resolved at the ping, %s", res.ev.ID, res.ev.Status, res.ev.At, pingAt)
	}
	ok := g.waitState("nightly-backup", "resolved", func(r *record) bool { return !r.firing() && len(r.Outbox) == 0 })
	if !ok.Since.Equal(pingAt) || !ok.LastPing.Equal(pingAt) {
		t.Errorf("after the ping: since %s, last ping %s; want both %s", ok.Since, ok.LastPing, pingAt)
	}
	if n := counter(w.rt.m.pings.WithLabelValues("nightly-backup")); n != 1 {
		t.Errorf("escalator_heartbeats_pings_total = %v, want 1", n)
	}
}

// A ping before the deadline moves it: the first miss is counted from the
// ping, and the schedule of the old deadline, firing after the ping moved
// it, raises nothing.
func TestAPingBeforeTheDeadlineMovesIt(t *testing.T) {
	t.Parallel()
	const every = 3 * time.Second
	g := newRig(t, monitor("etl", every))
	g.start(nil, all)
	loaded := g.waitState("etl", "loaded", func(*record) bool { return true })
	pingAt, seq := g.pingAt("etl")
	if !pingAt.Before(loaded.Since.Add(every)) {
		t.Fatalf("the ping came after the deadline (%s, deadline %s): the machine is too slow for this test", pingAt,
			loaded.Since.Add(every))
	}
	g.waitState("etl", "given the ping", func(r *record) bool { return r.PingSeq == seq })

	fired := g.nextAlert()
	if want := pingAt.Add(every); fired.ev.Status != alert.Firing || !fired.ev.At.Equal(want) {
		t.Fatalf("first alert: %s at %s, want firing at the ping plus every, %s (loaded %s)", fired.ev.Status, fired.ev.At, want, loaded.Since)
	}
	if fired.ev.Annotations["last_ping"] != pingAt.Format(time.RFC3339Nano) {
		t.Errorf("last_ping annotation %q, want %s", fired.ev.Annotations["last_ping"], pingAt.Format(time.RFC3339Nano))
	}
}

// Two runtimes on one server: however many times and wherever the deadline
// is handled, one compare-and-set records the miss and one alert is stored.
// The clock is injected: the deadline is reached without waiting for it.
func TestTwoRuntimesRaiseOnce(t *testing.T) {
	t.Parallel()
	const every = time.Minute
	g := newRig(t, monitor("backup", every))
	// An hour ahead of the server: the schedules set by loading fire
	// long after the test.
	clk := clock.NewFake(time.Now().Add(time.Hour).Truncate(time.Second))
	a, b := g.start(clk, all), g.start(clk, all)
	loaded := g.waitState("backup", "loaded", func(*record) bool { return true })
	deadline := loaded.Since.Add(every)
	clk.Advance(every)

	body, _ := json.Marshal(due{Name: "backup", At: deadline})
	var wg sync.WaitGroup
	for i := range 8 {
		rt := []*Runtime{a.rt, b.rt}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rt.fired(context.Background(), body); err != nil {
				t.Errorf("fired: %v", err)
			}
		}()
	}
	wg.Wait()
	fired := g.nextAlert()
	if fired.ev.Status != alert.Firing || !fired.ev.At.Equal(deadline) {
		t.Fatalf("alert %s at %s, want firing at %s", fired.ev.Status, fired.ev.At, deadline)
	}
	g.noAlert()
	if n := counter(a.rt.m.missed.WithLabelValues("backup")) + counter(b.rt.m.missed.WithLabelValues("backup")); n != 1 {
		t.Errorf("misses recorded by the two runtimes: %v, want 1", n)
	}
}

// A deadline message that arrives before the deadline by the worker's clock
// (clocks differ) raises nothing until the deadline, then the alert.
func TestAnEarlyDeadlineWaitsForIt(t *testing.T) {
	t.Parallel()
	const every = 2 * time.Second
	g := newRig(t, monitor("backup", every))
	core, logs := observer.New(zap.DebugLevel)
	g.logger = zap.New(core)
	// An hour ahead of the server: loading sets a schedule that fires
	// long after the test; the test delivers the deadline itself.
	clk := clock.NewFake(time.Now().Add(time.Hour).Truncate(time.Second))
	g.start(clk, all)
	loaded := g.waitState("backup", "loaded", func(*record) bool { return true })
	deadline := loaded.Since.Add(every)
	g.publishDue("backup", deadline)
	// The handler says when it hands the deadline back (a filter is a
	// snapshot: taken again until it shows).
	handedBack := func() int {
		return logs.FilterMessage("handing back for later").FilterField(zap.String("why", "deadline not reached yet")).Len()
	}
	for timeout := time.After(waitFor); handedBack() == 0; {
		select {
		case <-timeout:
			t.Fatal("the early deadline was not handed back")
		case <-time.After(10 * time.Millisecond):
		}
	}
	g.noAlert()
	if rec := g.state("backup"); rec.firing() {
		t.Fatalf("missed before the deadline: %+v", rec)
	}
	clk.Advance(every)
	// Handed back for the time the deadline was away (2 s): then it is due.
	if fired := g.nextAlert(); fired.ev.Status != alert.Firing || !fired.ev.At.Equal(deadline) {
		t.Errorf("alert %s at %s, want firing at %s", fired.ev.Status, fired.ev.At, deadline)
	}
}

// A ping for no monitor: dead-lettered over NATS, with the original bytes
// and the reason; nothing is left in HEARTBEATS.
func TestAPingForNoMonitorIsDeadLettered(t *testing.T) {
	t.Parallel()
	g := newRig(t, monitor("backup", time.Hour))
	w := g.start(nil, all)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	sub, err := g.nc.SubscribeSync(natsx.SubjectDeadRoot + ".>")
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: natsx.PingSubject("no-such"), Data: []byte("took 3m"), Header: nats.Header{}}
	msg.Header.Set("Nats-Msg-Id", "cron-42")
	ack, err := g.js.PublishMsg(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := sub.NextMsg(waitFor)
	if err != nil {
		t.Fatal(err)
	}
	if dead.Subject != "escalator.dead.unknown_heartbeat" || string(dead.Data) != "took 3m" {
		t.Errorf("dead letter %s %q", dead.Subject, dead.Data)
	}
	for k, v := range map[string]string{
		"Escalator-Reason": "unknown_heartbeat", "Escalator-Error": `no heartbeat monitor named "no-such" is in force`,
		"Escalator-Subject": "heartbeats.no-such", "Escalator-Stream": "HEARTBEATS", "Escalator-Deliveries": "1",
		"Escalator-Original-Msg-Id": "cron-42", "Nats-Msg-Id": "dead-heartbeat-" + itoa(ack.Sequence),
		"Escalator-Stream-Seq": itoa(ack.Sequence),
	} {
		if got := dead.Header.Get(k); got != v {
			t.Errorf("dead letter header %s = %q, want %q", k, got, v)
		}
	}
	// Stored in ESCALATOR_DEAD, and gone from HEARTBEATS.
	ds, err := g.js.Stream(ctx, natsx.StreamDead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.GetLastMsgForSubject(ctx, "escalator.dead.unknown_heartbeat"); err != nil {
		t.Errorf("dead letter not stored: %v", err)
	}
	g.handled(natsx.StreamHeartbeats, natsx.ConsumerHeartbeats)
	if n := counter(w.rt.m.rejected.WithLabelValues(ReasonUnknown)); n != 1 {
		t.Errorf("escalator_heartbeats_pings_rejected_total = %v, want 1", n)
	}
	if rec := g.state("no-such"); rec != nil {
		t.Errorf("state for a ping of no monitor: %+v", rec)
	}
}

// A ping published while no runtime runs counts, at the time it was
// stored, when one starts.
func TestAPingWhileNoRuntimeRunsCounts(t *testing.T) {
	t.Parallel()
	const every = 3 * time.Second
	g := newRig(t, monitor("backup", every))
	first := g.start(nil, all)
	loaded := g.waitState("backup", "loaded", func(*record) bool { return true })
	first.stop()

	pingAt, seq := g.pingAt("backup")
	if !pingAt.Before(loaded.Since.Add(every)) {
		t.Fatalf("the ping came after the deadline: the machine is too slow for this test")
	}
	g.start(nil, all)
	rec := g.waitState("backup", "given the ping", func(r *record) bool { return r.PingSeq == seq })
	if !rec.LastPing.Equal(pingAt) || !rec.Since.Equal(pingAt) {
		t.Errorf("state %+v, want last ping and since %s", rec, pingAt)
	}
	fired := g.nextAlert()
	if want := pingAt.Add(every); !fired.ev.At.Equal(want) {
		t.Errorf("first miss at %s, want %s (the ping plus every)", fired.ev.At, want)
	}
}

// A deadline that passed while no runtime ran, then a late ping: the miss
// is raised and resolved by the ping, in that order and once each, whether
// the deadline or the ping is handled first.
func TestADeadlineMissedWhileDownIsRaisedThenResolved(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name         string
		first, later part
	}{
		{"deadline first", deadlines, pings | monitors},
		{"ping first", pings, deadlines | monitors},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const every = 2 * time.Second
			g := newRig(t, monitor("backup", every))
			w := g.start(nil, monitors)
			loaded := g.waitState("backup", "loaded", func(*record) bool { return true })
			g.waitTimer("backup")
			w.stop()
			deadline := loaded.Since.Add(every)
			g.waitDue("backup") // fired by the server while nobody listens
			pingAt, _ := g.pingAt("backup")

			g.start(nil, tt.first)
			switch tt.first {
			case deadlines:
				g.waitState("backup", "firing", (*record).firing)
			case pings:
				g.waitState("backup", "pinged", func(r *record) bool { return !r.LastPing.IsZero() && len(r.Outbox) == 0 })
			}
			g.start(nil, tt.later)
			fired, res := g.nextAlert(), g.nextAlert()
			if fired.ev.Status != alert.Firing || !fired.ev.At.Equal(deadline) {
				t.Errorf("first alert %s at %s, want firing at %s", fired.ev.Status, fired.ev.At, deadline)
			}
			if res.ev.Status != alert.Resolved || !res.ev.At.Equal(pingAt) {
				t.Errorf("second alert %s at %s, want resolved at %s", res.ev.Status, res.ev.At, pingAt)
			}
			g.handled(natsx.StreamHeartbeatTimers, natsx.ConsumerHeartbeatDue)
			g.handled(natsx.StreamHeartbeats, natsx.ConsumerHeartbeats)
			rec := g.state("backup")
			if rec.firing() || !rec.Since.Equal(pingAt) {
				t.Errorf("state %+v, want not firing, since the ping %s", rec, pingAt)
			}
		})
	}
}

// A ping stored before the deadline, still waiting in HEARTBEATS when the
// deadline is handled (no runtime ran meanwhile): the deadline was not
// missed, and the ping moves it.
func TestAnOnTimePingStillWaitingWhenTheDeadlineFires(t *testing.T) {
	t.Parallel()
	const every = 2 * time.Second
	g := newRig(t, monitor("backup", every))
	w := g.start(nil, monitors)
	loaded := g.waitState("backup", "loaded", func(*record) bool { return true })
	g.waitTimer("backup")
	w.stop()
	pingAt, seq := g.pingAt("backup")
	if !pingAt.Before(loaded.Since.Add(every)) {
		t.Fatalf("the ping came after the deadline: the machine is too slow for this test")
	}
	g.waitDue("backup")

	g.start(nil, deadlines) // the deadline first, the ping not applied yet
	g.handled(natsx.StreamHeartbeatTimers, natsx.ConsumerHeartbeatDue)
	if rec := g.state("backup"); rec.firing() || len(rec.Outbox) > 0 {
		t.Fatalf("the deadline was taken as missed despite the ping before it: %+v", rec)
	}
	g.start(nil, pings)
	g.waitState("backup", "given the ping", func(r *record) bool { return r.PingSeq == seq })
	fired := g.nextAlert()
	if want := pingAt.Add(every); !fired.ev.At.Equal(want) {
		t.Errorf("first miss at %s, want the ping plus every, %s", fired.ev.At, want)
	}
}

// A reload that adds a monitor starts its deadline from then; one that
// removes a monitor leaves its state, and its deadline does nothing.
func TestAReloadAddsAndRemovesMonitors(t *testing.T) {
	t.Parallel()
	const every = time.Hour
	g := newRig(t, monitor("a", every))
	t0 := time.Now().Truncate(time.Second)
	clk := clock.NewFake(t0)
	g.start(clk, all)
	if a := g.waitState("a", "loaded", func(*record) bool { return true }); !a.Since.Equal(t0) {
		t.Errorf("a loaded since %s, want %s", a.Since, t0)
	}

	// b's every is long enough for b never to be due in this test.
	g.setMonitors(monitor("a", every), monitor("b", 10*every))
	clk.WaitForWaiters(1)
	clk.Advance(5 * time.Minute) // the next look for a reload
	b := g.waitState("b", "loaded", func(*record) bool { return true })
	if want := t0.Add(5 * time.Minute); !b.Since.Equal(want) {
		t.Errorf("b loaded since %s, want the reload, %s", b.Since, want)
	}
	if a := g.state("a"); !a.Since.Equal(t0) {
		t.Errorf("the reload moved a: since %s, want %s", a.Since, t0)
	}

	// A reload that changes a's every moves its deadline (the state keeps
	// what it counts from, not the deadline).
	g.setMonitors(monitor("a", 2*every), monitor("b", 10*every))
	clk.WaitForWaiters(1)
	clk.Advance(time.Second)
	if at := g.waitArmed("a", t0.Add(2*every)); !at.Equal(t0.Add(2 * every)) {
		t.Errorf("a's deadline after its every doubled: %s, want %s", at, t0.Add(2*every))
	}

	// A reload that removes a, then a's deadline, due by the clock: a is
	// gone, nothing happens.
	g.setMonitors(monitor("b", 10*every))
	clk.WaitForWaiters(1)
	clk.Advance(2 * every)
	g.publishDue("a", t0.Add(2*every))
	g.handled(natsx.StreamHeartbeatTimers, natsx.ConsumerHeartbeatDue)
	g.noAlert()
	if a := g.state("a"); a == nil || a.firing() {
		t.Errorf("a removed: its state %+v, want kept, not firing", a)
	}
}

// publishDue publishes a deadline message as the server fires it.
func (g *rig) publishDue(name string, at time.Time) {
	g.t.Helper()
	body, _ := json.Marshal(due{Name: name, At: at})
	if _, err := g.js.Publish(context.Background(), natsx.HeartbeatDueSubject(key(name)), body); err != nil {
		g.t.Fatal(err)
	}
}

// waitArmed waits until name's schedule is for want, and returns the
// deadline it was last seen set for.
func (g *rig) waitArmed(name string, want time.Time) time.Time {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	s, err := g.js.Stream(ctx, natsx.StreamHeartbeatTimers)
	if err != nil {
		g.t.Fatal(err)
	}
	var d due
	for {
		if m, err := s.GetLastMsgForSubject(ctx, natsx.HeartbeatTimerSubject(key(name))); err == nil {
			_ = json.Unmarshal(m.Data, &d)
			if d.At.Equal(want) {
				return d.At
			}
		}
		select {
		case <-ctx.Done():
			return d.At
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitTimer waits until name's deadline is set (its schedule stored).
func (g *rig) waitTimer(name string) {
	g.t.Helper()
	g.waitSubject(natsx.StreamHeartbeatTimers, natsx.HeartbeatTimerSubject(key(name)), "deadline of "+name+" never set")
}

// waitDue waits until the server has fired name's deadline into the stream.
func (g *rig) waitDue(name string) {
	g.t.Helper()
	g.waitSubject(natsx.StreamHeartbeatTimers, natsx.HeartbeatDueSubject(key(name)), "deadline of "+name+" never fired")
}

// waitSubject waits until stream holds a message on subject.
func (g *rig) waitSubject(stream, subject, fail string) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	s, err := g.js.Stream(ctx, stream)
	if err != nil {
		g.t.Fatal(err)
	}
	for {
		if _, err := s.GetLastMsgForSubject(ctx, subject); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			g.t.Fatal(fail)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }
