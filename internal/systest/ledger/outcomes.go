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
// consumer (which survives a server's restart or death) and keeps every
// outcome in stream order.
type Outcomes struct {
	mu       sync.Mutex
	all      []outcome.Outcome
	undecode []string
	finished map[string]bool // alert id → one of its escalations has a final outcome
	lastSeq  uint64
	changed  chan struct{}
	stop     func()
}

// ReadOutcomes starts reading. The stream may not exist yet (a worker in
// another process makes it): it waits for it for up to a minute. Reading
// stops when the test ends, or at Stop.
func ReadOutcomes(t testing.TB, js jetstream.JetStream) *Outcomes {
	t.Helper()
	o := &Outcomes{finished: map[string]bool{}, changed: make(chan struct{}, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var cons jetstream.Consumer
	var err error
	for {
		if cons, err = js.OrderedConsumer(ctx, natsx.StreamOutcomes, jetstream.OrderedConsumerConfig{}); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("read %s: %v", natsx.StreamOutcomes, err)
		case <-time.After(200 * time.Millisecond): // nothing to wait on: another process makes the stream
		}
	}
	cc, err := cons.Consume(o.add)
	if err != nil {
		t.Fatalf("read %s: %v", natsx.StreamOutcomes, err)
	}
	o.stop = cc.Stop
	t.Cleanup(cc.Stop)
	return o
}

func (o *Outcomes) add(m jetstream.Msg) {
	var oc outcome.Outcome
	err := json.Unmarshal(m.Data(), &oc)
	meta, _ := m.Metadata()
	o.mu.Lock()
	if meta != nil {
		o.lastSeq = meta.Sequence.Stream
	}
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
func (o *Outcomes) Stop() { o.stop() }

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
func (o *Outcomes) WaitCaughtUp(t testing.TB, js jetstream.JetStream, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var last uint64
		s, err := js.Stream(ctx, natsx.StreamOutcomes)
		if err == nil {
			var info *jetstream.StreamInfo
			if info, err = s.Info(ctx); err == nil {
				last = info.State.LastSeq
			}
		}
		cancel()
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
