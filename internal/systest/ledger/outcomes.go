package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/outcome"
)

// Outcomes reads the ESCALATIONS stream from its start with an ordered
// consumer (which re-creates itself when its server restarts or dies) and
// keeps every outcome in stream order.
type Outcomes struct {
	js   jetstream.JetStream
	quit chan struct{}
	once sync.Once

	mu       sync.Mutex
	cc       jetstream.ConsumeContext
	all      []outcome.Outcome
	undecode []string
	finished map[string]bool // alert id → one of its escalations has a final outcome
	lastSeq  uint64
	errs     []string // the consumer's first errors, with when
	errCount int
	restarts int
	changed  chan struct{}
}

// ReadOutcomes starts reading. The stream may not exist yet (a worker in
// another process makes it): it waits for it for up to a minute. Reading
// stops when the test ends, or at Stop.
func ReadOutcomes(t testing.TB, js jetstream.JetStream) *Outcomes {
	t.Helper()
	o := &Outcomes{js: js, quit: make(chan struct{}), finished: map[string]bool{}, changed: make(chan struct{}, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		err := o.consume(ctx, 1)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("read %s: %v", natsx.StreamOutcomes, err)
		case <-time.After(200 * time.Millisecond): // nothing to wait on: another process makes the stream
		}
	}
	go o.watch()
	t.Cleanup(o.Stop)
	return o
}

// consume (re)starts reading at stream sequence from.
func (o *Outcomes) consume(ctx context.Context, from uint64) error {
	cfg := jetstream.OrderedConsumerConfig{}
	if from > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	}
	cons, err := o.js.OrderedConsumer(ctx, natsx.StreamOutcomes, cfg)
	if err != nil {
		return err
	}
	cc, err := cons.Consume(o.add, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.errCount++
		if len(o.errs) < 10 {
			o.errs = append(o.errs, at(time.Now())+" "+err.Error())
		}
	}))
	if err != nil {
		return err
	}
	o.mu.Lock()
	old := o.cc
	o.cc = cc
	o.mu.Unlock()
	if old != nil {
		old.Stop()
	}
	select {
	case <-o.quit: // stopped meanwhile
		cc.Stop()
	default:
	}
	return nil
}

// watch restarts reading from the last outcome read when the stream has
// gone on and reading has not, for two looks in a row. An ordered consumer
// re-creates itself after a server's death, but was once seen to stop for
// good after a node was killed (the cluster test then waited its 4 minutes
// for outcomes the stream had). Nothing tells a client that it is stuck, so
// this polls, every 5 s.
func (o *Outcomes) watch() {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	var prev uint64
	for {
		select {
		case <-o.quit:
			return
		case <-tick.C:
		}
		last, err := o.streamLast()
		o.mu.Lock()
		seen := o.lastSeq
		o.mu.Unlock()
		if err == nil && seen < last && seen == prev {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if o.consume(ctx, seen+1) == nil {
				o.mu.Lock()
				o.restarts++
				o.mu.Unlock()
			}
			cancel()
		}
		prev = seen
	}
}

func (o *Outcomes) streamLast() (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := o.js.Stream(ctx, natsx.StreamOutcomes)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

func (o *Outcomes) add(m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil {
		return // not from a stream
	}
	var oc outcome.Outcome
	err = json.Unmarshal(m.Data(), &oc)
	o.mu.Lock()
	if meta.Sequence.Stream <= o.lastSeq {
		o.mu.Unlock()
		return // read already, before a restart
	}
	o.lastSeq = meta.Sequence.Stream
	if err != nil {
		o.undecode = append(o.undecode, fmt.Sprintf("%s: %v", m.Data(), err))
	} else {
		o.all = append(o.all, oc)
		if isFinal(oc.Event) {
			o.finished[oc.AlertID] = true
		}
	}
	o.mu.Unlock()
	select {
	case o.changed <- struct{}{}:
	default:
	}
}

// Stop stops reading; safe twice.
func (o *Outcomes) Stop() {
	o.once.Do(func() { close(o.quit) })
	o.mu.Lock()
	cc := o.cc
	o.mu.Unlock()
	if cc != nil {
		cc.Stop()
	}
}

// All returns the outcomes read so far, in stream order.
func (o *Outcomes) All() []outcome.Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.all)
}

// Undecodable returns the messages that were not outcome JSON, with why.
func (o *Outcomes) Undecodable() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.undecode)
}

// Progress says how far reading got: outcomes read, up to which sequence of
// how many the stream holds now, the consumer's errors and restarts. It is
// for a test that waited in vain, to tell outcomes not published from
// outcomes not read.
func (o *Outcomes) Progress() string {
	held := "unknown"
	if last, err := o.streamLast(); err != nil {
		held = err.Error()
	} else {
		held = fmt.Sprint(last)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return fmt.Sprintf("read %d outcomes, up to sequence %d; the stream's last sequence: %s; %d consumer errors %v; %d restarts",
		len(o.all), o.lastSeq, held, o.errCount, o.errs, o.restarts)
}

// Pending returns the alerts of ids none of whose escalations has reached a
// final outcome (exhausted, acknowledged, resolved).
func (o *Outcomes) Pending(ids []string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, id := range ids {
		if !o.finished[id] {
			out = append(out, id)
		}
	}
	return out
}

// WaitEvent waits, as outcomes arrive, until n outcomes of event have been
// read, or for at most within; it returns how many were.
func (o *Outcomes) WaitEvent(event string, n int, within time.Duration) int {
	timeout := time.After(within)
	for {
		o.mu.Lock()
		got := 0
		for _, oc := range o.all {
			if oc.Event == event {
				got++
			}
		}
		o.mu.Unlock()
		if got >= n {
			return got
		}
		select {
		case <-o.changed:
		case <-timeout:
			return got
		}
	}
}

// WaitFinal waits, as outcomes arrive, until every alert of ids has an
// escalation that ended, or for at most within; it returns the alerts still
// pending.
func (o *Outcomes) WaitFinal(ids []string, within time.Duration) []string {
	timeout := time.After(within)
	for {
		p := o.Pending(ids)
		if len(p) == 0 {
			return nil
		}
		select {
		case <-o.changed:
		case <-timeout:
			return p
		}
	}
}

// WaitCaughtUp waits until everything the stream held a moment ago has been
// read, so that counts made next see every outcome published before.
// The consumer says nothing when it reaches the end, so this polls the
// stream's last sequence, for at most within.
func (o *Outcomes) WaitCaughtUp(t testing.TB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		last, err := o.streamLast()
		o.mu.Lock()
		seen := o.lastSeq
		o.mu.Unlock()
		if err == nil && seen >= last {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outcomes read up to %d of %d after %s: %v", seen, last, within, err)
		}
		time.Sleep(100 * time.Millisecond) // poll interval, see above
	}
}

func isFinal(event string) bool {
	return event == outcome.Exhausted || event == outcome.Acknowledged || event == outcome.Resolved
}
