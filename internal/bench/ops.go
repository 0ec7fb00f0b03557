package bench

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Ops counts the NATS messages the worker sends per escalation (its
// connection's OutMsgs, escalator_nats_out_msgs_total): every publish (a
// stream write, a KV put or delete, an outcome, a timer), every request (a
// KV get, a JetStream API call), every ack and every pull request is one.
// What it receives (InMsgs: deliveries, replies) is reported beside it.
type Ops struct {
	Escalations int `json:"escalations"`
	// FirstWait is the bench-ops policy's first wait: the step phase
	// starts when those timers fire.
	FirstWait string `json:"first_wait"`
	// Start: from publishing the alerts until every escalation has placed
	// its first step (its "dispatched" outcome) and the worker is quiet
	// again — the result recorded, the timer set, the alert acked.
	Start OpsPhase `json:"start"`
	// Step: the first step's timer firing until the second step is placed
	// and the worker is quiet again.
	Step OpsPhase `json:"step"`
	// Ack: POST /v1/escalations/{id}/ack for each (by its full id, which
	// the API resolves without reading) until its "acknowledged" outcome
	// and the worker is quiet again.
	Ack OpsPhase `json:"ack"`
	// BeforeFirstCall: FirstCalls escalations of their own, one at a
	// time: from publishing the alert until its first provider request
	// has arrived (held by the simulator, unanswered) and the worker is
	// quiet. Issue 16's target (≤ 6) is on this figure.
	FirstCalls      int      `json:"first_calls"`
	BeforeFirstCall OpsPhase `json:"before_first_call"`
	// UntilFirstRequest: the same escalations, from publishing the alert
	// until the moment their first provider request arrived (read then,
	// not once the worker is quiet): what the worker sent before it
	// called. Messages it sends while the call goes on (its "started"
	// outcome, say) may be counted too when they race the reading: an
	// upper bound. Issue 16's target (≤ 6) is judged on this figure.
	UntilFirstRequest OpsPhase `json:"until_first_request"`
}

// OpsPhase is one phase's count.
type OpsPhase struct {
	// OutPerEscalation: messages sent, less the idle rate over the phase's
	// time, divided by the escalations.
	OutPerEscalation float64 `json:"out_per_escalation"`
	InPerEscalation  float64 `json:"in_per_escalation"`
	// Seconds the phase took (the counts' readings apart); IdleOutPerSec
	// the worker's rate of messages sent with nothing to do, measured for
	// opsIdle just before the phase, and subtracted.
	Seconds       float64 `json:"seconds"`
	IdleOutPerSec float64 `json:"idle_out_per_sec"`
	IdleInPerSec  float64 `json:"idle_in_per_sec"`
	// Missing: escalations that did not pass the phase. Overlapped: the
	// next phase began before this one was counted (the figure is void).
	Missing    int  `json:"missing"`
	Overlapped bool `json:"overlapped,omitempty"`
}

// opsIdle is how long the worker's idle rate is measured before each phase.
const opsIdle = 3 * time.Second

// opsFirstWait is the bench-ops policy's first wait for n escalations: long
// enough for the start phase, the quiet wait and the idle measurement
// before the step's timers fire.
func opsFirstWait(n int) time.Duration {
	return 10*time.Second + time.Duration(n)*10*time.Millisecond
}

// opsFirstCalls is how many escalations the before-the-first-call count
// runs, one at a time.
const opsFirstCalls = 20

func opsAlert(i int, at time.Time) (string, []byte) {
	return benchAlert("ops", i, at, fmt.Sprintf(`{"bench":"ops","n":"%d"}`, i))
}

// idleRate reads the worker's message rates over opsIdle.
func idleRate(ctx context.Context, addr string) (out, in float64, end msgCount, err error) {
	a, err := readMsgs(ctx, addr)
	if err != nil {
		return 0, 0, a, err
	}
	if err := sleepCtx(ctx, opsIdle); err != nil {
		return 0, 0, a, err
	}
	b, err := readMsgs(ctx, addr)
	if err != nil {
		return 0, 0, b, err
	}
	d := b.at.Sub(a.at).Seconds()
	return (b.out - a.out) / d, (b.in - a.in) / d, b, nil
}

// quiet waits until the worker sends no more than its idle rate (plus a
// couple of messages) over a second, up to 15 s, and returns the last
// reading: the trailing writes of the phase are in it.
func quiet(ctx context.Context, addr string, idleOut float64) (msgCount, error) {
	return quietFor(ctx, addr, idleOut, 250*time.Millisecond, 2)
}

// quietFor is quiet over four readings every apart, with slack messages
// more than the idle rate allowed.
func quietFor(ctx context.Context, addr string, idleOut float64, every time.Duration, slack float64) (msgCount, error) {
	var reads []msgCount
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := readMsgs(ctx, addr)
		if err != nil {
			return c, err
		}
		reads = append(reads, c)
		if n := len(reads); n >= 5 {
			a := reads[n-5]
			if c.out-a.out <= idleOut*c.at.Sub(a.at).Seconds()+slack || time.Now().After(deadline) {
				return c, nil
			}
		}
		if err := sleepCtx(ctx, every); err != nil {
			return c, err
		}
	}
}

// phaseOps is a phase's figure from its readings.
func phaseOps(a, b msgCount, idleOut, idleIn float64, n int) OpsPhase {
	s := b.at.Sub(a.at).Seconds()
	return OpsPhase{
		OutPerEscalation: (b.out - a.out - idleOut*s) / float64(n),
		InPerEscalation:  (b.in - a.in - idleIn*s) / float64(n),
		Seconds:          s, IdleOutPerSec: idleOut, IdleInPerSec: idleIn,
	}
}

// opsRun counts the messages of n escalations through a start, a step and
// an acknowledgement, on a fresh worker whose only alerts are these.
func opsRun(ctx context.Context, cfg Config, wk *worker, nc *nats.Conn, w *watcher, first *firstRequests, n int) (*Ops, error) {
	out := &Ops{Escalations: n, FirstWait: opsFirstWait(n).String()}
	addr := wk.httpAddr
	w.mu.Lock()
	w.idsOf = "ops"
	w.mu.Unlock()

	// Start.
	idleOut, idleIn, c0, err := idleRate(ctx, addr)
	if err != nil {
		return nil, err
	}
	cfg.progress("ops: idle %.1f msg/s out; starting %d escalations", idleOut, n)
	pub, err := newPublisher(nc)
	if err != nil {
		return nil, err
	}
	at := time.Now()
	for i := range n {
		id, data := opsAlert(i, at)
		if err := pub.publish(alertSubject, id, data); err != nil {
			return nil, err
		}
	}
	if err := pub.flush(ctx); err != nil {
		return nil, err
	}
	if !waitPlaced(ctx, w, "ops", n, 5*time.Minute) {
		out.Start.Missing = n - w.counts("ops").dispatched
	}
	c1, err := quiet(ctx, addr, idleOut)
	if err != nil {
		return nil, err
	}
	missing := out.Start.Missing
	out.Start = phaseOps(c0, c1, idleOut, idleIn, n)
	out.Start.Missing = missing
	out.Start.Overlapped = w.counts("ops").progressed > 0

	// Step: the idle rate just before, then the timers fire.
	idleOut, idleIn, c2, err := idleRate(ctx, addr)
	if err != nil {
		return nil, err
	}
	early := w.counts("ops").progressed > 0
	cfg.progress("ops: idle %.1f msg/s out; waiting for %d timers (first wait %s)", idleOut, n, out.FirstWait)
	if !w.wait(ctx, opsFirstWait(n)+5*time.Minute, func(w *watcher) bool { return w.count("ops").progressed >= n }) {
		out.Step.Missing = n - w.counts("ops").progressed
	}
	c3, err := quiet(ctx, addr, idleOut)
	if err != nil {
		return nil, err
	}
	missing = out.Step.Missing
	out.Step = phaseOps(c2, c3, idleOut, idleIn, n)
	out.Step.Missing, out.Step.Overlapped = missing, early

	// Acknowledgement.
	idleOut, idleIn, c4, err := idleRate(ctx, addr)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	ids := make([]string, 0, len(w.escalations))
	for _, id := range w.escalations {
		ids = append(ids, id)
	}
	w.mu.Unlock()
	cfg.progress("ops: idle %.1f msg/s out; acknowledging %d escalations", idleOut, len(ids))
	failed := ackAll(ctx, "http://"+addr, ids)
	if !w.wait(ctx, 5*time.Minute, func(w *watcher) bool { return w.count("ops").acknowledged >= n }) {
		out.Ack.Missing = n - w.counts("ops").acknowledged
	}
	c5, err := quiet(ctx, addr, idleOut)
	if err != nil {
		return nil, err
	}
	missing = out.Ack.Missing
	out.Ack = phaseOps(c4, c5, idleOut, idleIn, n)
	out.Ack.Missing = max(missing, failed)

	// Before the first call, one escalation at a time (bench-first: one
	// step, waiting an hour), each first provider request held.
	m := min(n, opsFirstCalls)
	out.FirstCalls = m
	idleOut, idleIn, _, err = idleRate(ctx, addr)
	if err != nil {
		return nil, err
	}
	cfg.progress("ops: idle %.1f msg/s out; %d escalations one at a time, each held at its first provider request", idleOut, m)
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	var sumOut, sumIn, secs float64
	var untilOut, untilIn, untilSecs float64
	counted := 0
	for i := range m {
		a, err := quietFor(ctx, addr, idleOut, 50*time.Millisecond, 0.5)
		if err != nil {
			return nil, err
		}
		id, data := benchAlert("first", i, time.Now(), fmt.Sprintf(`{"bench":"first","n":"%d"}`, i))
		h := first.hold(id)
		if _, err := js.Publish(ctx, alertSubject, data, jetstream.WithMsgID(id)); err != nil {
			close(h.release)
			return nil, fmt.Errorf("ops: publish: %w", err)
		}
		select {
		case <-h.arrived:
		case <-time.After(30 * time.Second):
			close(h.release)
			out.BeforeFirstCall.Missing++
			continue
		case <-ctx.Done():
			close(h.release)
			return nil, ctx.Err()
		}
		arrived, err := readMsgs(ctx, addr)
		if err != nil {
			close(h.release)
			return nil, err
		}
		b, err := quietFor(ctx, addr, idleOut, 50*time.Millisecond, 0.5)
		close(h.release)
		if err != nil {
			return nil, err
		}
		u := arrived.at.Sub(a.at).Seconds()
		untilOut += arrived.out - a.out - idleOut*u
		untilIn += arrived.in - a.in - idleIn*u
		untilSecs += u
		s := b.at.Sub(a.at).Seconds()
		sumOut += b.out - a.out - idleOut*s
		sumIn += b.in - a.in - idleIn*s
		secs += s
		counted++
		if !waitPlaced(ctx, w, "first", i+1, 30*time.Second) {
			out.BeforeFirstCall.Missing++
		}
	}
	out.BeforeFirstCall.Seconds, out.BeforeFirstCall.IdleOutPerSec, out.BeforeFirstCall.IdleInPerSec = secs, idleOut, idleIn
	out.UntilFirstRequest = OpsPhase{Seconds: untilSecs, IdleOutPerSec: idleOut, IdleInPerSec: idleIn,
		Missing: out.BeforeFirstCall.Missing}
	if counted > 0 {
		out.BeforeFirstCall.OutPerEscalation, out.BeforeFirstCall.InPerEscalation = sumOut/float64(counted), sumIn/float64(counted)
		out.UntilFirstRequest.OutPerEscalation, out.UntilFirstRequest.InPerEscalation = untilOut/float64(counted), untilIn/float64(counted)
	}
	return out, nil
}

// ackAll acknowledges each escalation through the worker's API, eight at a
// time, and returns how many requests failed.
func ackAll(ctx context.Context, base string, ids []string) int {
	var failed atomic.Int64
	var wg sync.WaitGroup
	next := make(chan string)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/escalations/"+id+"/ack",
					strings.NewReader(`{"by":"escalator bench"}`))
				if err != nil {
					failed.Add(1)
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		}()
	}
	for _, id := range ids {
		select {
		case next <- id:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return int(failed.Load())
}
