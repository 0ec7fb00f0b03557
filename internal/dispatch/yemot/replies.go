package yemot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
)

// Reading replies.
const (
	// smsPollLimit is how many of the latest text messages each poll reads.
	// More arriving between two polls than this would be missed (and a
	// warning logged).
	smsPollLimit = 100
	// defaultSMSInterval is the polling interval when none is given.
	defaultSMSInterval = 10 * time.Second
	// maxSMSBackoff caps the wait after failed polls (or the interval, if
	// longer).
	maxSMSBackoff = 5 * time.Minute
)

// replies implements dispatch.Acknowledger (see Provider): it reads the
// latest smsPollLimit incoming text messages every interval and hands each
// one not handed on yet to handle, oldest first, as a dispatch.Reply; a
// message handle fails on is handed again at the next poll. A failed poll
// is logged and retried after a wait that doubles from interval up to
// maxSMSBackoff, and the interval again once a poll succeeds. It returns
// nil when ctx ends, and only then.
//
// What was handed on is remembered for the messages still among the
// latest: after a restart, or on another worker, the same messages are
// handed on again, with the same IDs (applying a reply once is the
// engine's job).
func (c *Client) replies(ctx context.Context, interval time.Duration, handle func(context.Context, dispatch.Reply) error) error {
	if interval <= 0 {
		interval = defaultSMSInterval
	}
	log := c.log.With(zap.String("part", "sms replies"))
	handed := map[string]bool{}
	failures := 0
	first := true
	for {
		wait := interval
		msgs, err := c.IncomingSMS(ctx, SMSQuery{Limit: smsPollLimit})
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			failures++
			wait = backoff(interval, failures)
			log.Warn("cannot read the incoming text messages; trying again", zap.Int("failures", failures),
				zap.Duration("wait", wait), zap.Error(err))
		default:
			failures = 0
			handed = c.handOn(ctx, log, msgs, handed, first, handle)
			first = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.cfg.Clock.After(wait):
		}
	}
}

// backoff is the wait after failures failed polls in a row: interval
// doubled for each, up to maxSMSBackoff (or interval, if longer).
func backoff(interval time.Duration, failures int) time.Duration {
	limit := max(maxSMSBackoff, interval)
	wait := interval
	for range failures {
		if wait >= limit/2 {
			return limit
		}
		wait *= 2
	}
	return wait
}

// handOn hands the messages of one poll not handed on yet to handle, oldest
// first, and returns what is handed on among them.
func (c *Client) handOn(ctx context.Context, log *zap.Logger, msgs []SMS, handed map[string]bool, first bool,
	handle func(context.Context, dispatch.Reply) error) map[string]bool {
	now := c.cfg.Clock.Now()
	replies := make([]dispatch.Reply, len(msgs))
	for i, m := range msgs {
		r := m.Reply()
		if r.At.IsZero() {
			log.Warn("a text message's server_date cannot be read; taking the time it was read",
				zap.String("server_date", m.ServerDate))
			r.At = now
		}
		replies[i] = r
	}
	// The log lists the latest first: oldest first is the other way round,
	// and by time where the times say otherwise.
	slices.Reverse(replies)
	slices.SortStableFunc(replies, func(a, b dispatch.Reply) int { return a.At.Compare(b.At) })

	seen := make(map[string]bool, len(replies))
	fresh := 0
	for _, r := range replies {
		seen[r.ID] = true
		if handed[r.ID] {
			continue
		}
		fresh++
		if err := handle(ctx, r); err != nil {
			log.Warn("handling a reply failed; it is handed on again at the next poll", zap.String("reply", r.ID), zap.Error(err))
			continue
		}
		handed[r.ID] = true
	}
	if !first && fresh == smsPollLimit && len(replies) == smsPollLimit {
		log.Warn("every text message read was new: more may have arrived since the last poll than one poll reads, and been missed",
			zap.Int("limit", smsPollLimit))
	}
	for id := range handed {
		if !seen[id] {
			delete(handed, id) // no longer among the latest: it will not be read again
		}
	}
	return handed
}

// Reply returns m as a dispatch.Reply: its ID a hash of phone, dest,
// server_date and message (the same however often the row is read; two
// identical messages from one number in the same second are one reply),
// From in E.164 ("972522345678" gives "+972522345678"; "" when the sender
// is not a number), the text as sent, and At when Yemot received it (zero
// when server_date cannot be read).
func (m SMS) Reply() dispatch.Reply {
	h := sha256.New()
	for _, part := range []string{m.Phone, m.Dest, m.ServerDate, m.Message} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return dispatch.Reply{ID: "yemot-sms-" + hex.EncodeToString(h.Sum(nil))[:32], Provider: Name,
		From: e164(m.Phone), Text: m.Message, At: m.At}
}
