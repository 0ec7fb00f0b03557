package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/outcome"
)

// SubjectToken makes an id usable as one subject token: ids made only of
// letters, digits, '-' and '_' are kept; others are encoded as "x-" and the
// hex of their bytes. The JSON always carries the raw id.
func SubjectToken(id string) string {
	ok := id != ""
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			ok = false
			break
		}
	}
	if ok && !strings.HasPrefix(id, "x-") {
		return id
	}
	return "x-" + fmt.Sprintf("%x", id)
}

// publish stores an outcome, retrying with backoff while NATS is away. msgID
// makes a retried (or redelivered) publish stored once.
func (e *Engine) publish(ctx context.Context, o outcome.Outcome, msgID string) error {
	if o.At.IsZero() {
		o.At = e.clk.Now().UTC()
	}
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: fmt.Sprintf(natsx.SubjectOutcomeFmt, SubjectToken(o.EscalationID), o.Event), Data: data}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	b.MaxElapsedTime = e.cfg.PublishRetryFor
	op := func() error {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := e.js.PublishMsg(pctx, msg, jetstream.WithMsgID(msgID))
		return err
	}
	notify := func(err error, d time.Duration) {
		e.log.Warn("publish outcome: retrying", zap.String("subject", msg.Subject), zap.Error(err), zap.Duration("in", d))
	}
	if err := backoff.RetryNotify(op, backoff.WithContext(b, ctx), notify); err != nil {
		return fmt.Errorf("publish outcome %s: %w", msg.Subject, err)
	}
	e.m.outcomes.WithLabelValues(o.Event).Inc()
	return nil
}

func outcomeID(escID, event string, step, loop int, extra ...string) string {
	id := escID + "/" + event + "/" + strconv.Itoa(step) + "/" + strconv.Itoa(loop)
	for _, x := range extra {
		id += "/" + x
	}
	return id
}
