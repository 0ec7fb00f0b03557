package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// alertBody is one firing alert of the suite, for route (a policy of
// testdata/policies).
func alertBody(id, route string) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "status": "firing", "severity": "critical", "summary": "fault test " + id,
		"labels": map[string]string{"route": route, "alert": id},
	})
	return b
}

// publisher publishes alerts to alerts.faults with a Nats-Msg-Id, retrying
// each until JetStream acknowledged it (across server restarts: the
// connection reconnects for ever).
type publisher struct {
	nc *nats.Conn
	js jetstream.JetStream

	mu   sync.Mutex
	sent []string
}

func connect(t *testing.T, urls string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(urls, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func newPublisher(t *testing.T, urls string) *publisher {
	nc, js := connect(t, urls)
	return &publisher{nc: nc, js: js}
}

// publish stores one alert, retrying until ctx ends.
func (p *publisher) publish(ctx context.Context, id, route string) error {
	msg := &nats.Msg{Subject: "alerts.faults", Data: alertBody(id, route), Header: nats.Header{}}
	msg.Header.Set(nats.MsgIdHdr, id)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := p.js.PublishMsg(pctx, msg)
		cancel()
		if err == nil {
			p.mu.Lock()
			p.sent = append(p.sent, id)
			p.mu.Unlock()
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("publish %s: %w", id, err)
		}
		// A refused publish (no responders while the server restarts)
		// comes back at once: pace the retries.
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// publishAsync stores many alerts quickly (a backlog), each with its id.
func (p *publisher) publishAsync(ctx context.Context, ids []string, route func(int) string) error {
	const window = 256
	pending := make([]jetstream.PubAckFuture, 0, window)
	flush := func() error {
		for _, f := range pending {
			select {
			case <-f.Ok():
				p.mu.Lock()
				p.sent = append(p.sent, f.Msg().Header.Get(nats.MsgIdHdr))
				p.mu.Unlock()
			case <-f.Err():
				// Stored once at most (the message id): publish it the slow way.
				m := f.Msg()
				var ev struct {
					ID     string            `json:"id"`
					Labels map[string]string `json:"labels"`
				}
				_ = json.Unmarshal(m.Data, &ev)
				if err := p.publish(ctx, ev.ID, ev.Labels["route"]); err != nil {
					return err
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		pending = pending[:0]
		return nil
	}
	for i, id := range ids {
		msg := &nats.Msg{Subject: "alerts.faults", Data: alertBody(id, route(i)), Header: nats.Header{}}
		msg.Header.Set(nats.MsgIdHdr, id)
		f, err := p.js.PublishMsgAsync(msg)
		if err != nil {
			if err := flush(); err != nil {
				return err
			}
			if err := p.publish(ctx, id, route(i)); err != nil {
				return err
			}
			continue
		}
		pending = append(pending, f)
		if len(pending) == window {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func (p *publisher) sentIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.sent...)
}
