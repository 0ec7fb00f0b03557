package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

// DefaultAckWords are the replies that acknowledge: "ack", "1" and "אישור"
// (Hebrew: confirmed), case and the spaces around them ignored.
var DefaultAckWords = []string{"ack", "1", "אישור"}

// ShortCode is an escalation's four-digit code, which a person named in
// several active escalations may reply with ("ack 4821") to acknowledge
// that one. It is shown in outcome events and the API. Two escalations may
// share a code; a reply naming it acknowledges both.
func ShortCode(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return fmt.Sprintf("%04d", h.Sum32()%10000)
}

// Reply results, the label of escalator_replies_total.
const (
	replyAcknowledged = "acknowledged"
	replyOtherText    = "ignored_text"
	replyNobody       = "ignored_number"
	replyNothingOpen  = "ignored_nothing_active"
)

// HandleReply applies a person's reply (a text message back, read by a
// provider's dispatch.Acknowledger). A reply whose text is one of the ack
// words, alone or followed by a short code, acknowledges every active
// escalation that called the sender's number before the reply came (or
// only those with that short code), by the person's name, via sms. Any
// other reply is ignored, and counted. Each reply is applied once, whatever
// the number of workers reading it and however often they read it: it is
// remembered in the escalator_replies bucket once applied. An error hands
// the reply back, to be applied on a later read.
func (e *Engine) HandleReply(ctx context.Context, r dispatch.Reply) error {
	mark := "r." + hash(r.Provider, r.ID)
	if _, err := e.replies.Get(ctx, mark); err == nil {
		return nil // applied already (here or by another worker)
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("look up reply: %w", err)
	}
	log := e.log.With(zap.String("provider", r.Provider), zap.String("reply", r.ID))
	result, n, err := e.applyReply(ctx, r, log)
	if err != nil {
		return err
	}
	e.m.replies.WithLabelValues(r.Provider, result).Add(float64(max(n, 1)))
	// Applying is idempotent (an acknowledged escalation stays so), so a
	// worker that stops before remembering it only applies it again.
	if _, err := e.replies.Create(ctx, mark, []byte(result)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("remember reply: %w", err)
	}
	return nil
}

// applyReply acknowledges what r names, and says how many and why not.
func (e *Engine) applyReply(ctx context.Context, r dispatch.Reply, log *zap.Logger) (string, int, error) {
	code, ok := ackCode(r.Text, e.cfg.AckWords)
	if !ok {
		log.Info("reply ignored: not an acknowledgement", zap.String("from", r.From))
		return replyOtherText, 0, nil
	}
	called, err := e.calledBefore(ctx, r.From, r.At)
	if err != nil {
		return "", 0, err
	}
	if len(called) == 0 {
		log.Info("reply ignored: no active escalation called this number before it", zap.String("from", r.From))
		return replyNobody, 0, nil
	}
	n := 0
	for _, c := range called {
		if code != "" && ShortCode(c.id) != code {
			continue
		}
		if err := e.acknowledgeBy(ctx, c.key, c.id, c.name, viaSMS); err != nil {
			return "", 0, err
		}
		n++
		log.Info("acknowledged by text message", zap.String("escalation", c.id), zap.String("by", c.name))
	}
	if n == 0 {
		log.Info("reply ignored: no active escalation of that short code called this number", zap.String("code", code))
		return replyNothingOpen, 0, nil
	}
	return replyAcknowledged, n, nil
}

// ackCode reads a reply: an ack word alone ("", true), an ack word and a
// short code ("4821", true), or anything else (false).
func ackCode(text string, words []string) (string, bool) {
	if words == nil {
		words = DefaultAckWords
	}
	fields := strings.Fields(strings.ToLower(strings.TrimSpace(text)))
	if len(fields) == 0 || len(fields) > 2 {
		return "", false
	}
	known := false
	for _, w := range words {
		if fields[0] == strings.ToLower(strings.TrimSpace(w)) {
			known = true
			break
		}
	}
	if !known {
		return "", false
	}
	if len(fields) == 1 {
		return "", true
	}
	code := fields[1]
	if len(code) != 4 || strings.Trim(code, "0123456789") != "" {
		return "", false
	}
	return code, true
}

// caller is an active escalation that called a number, and the person's name.
type caller struct{ key, id, name string }

// calledBefore returns the active escalations that called phone (E.164) at
// or before at: a recorded call, or a step being placed. It reads every
// record (a reply is rare; a poll that reads nothing new costs nothing).
func (e *Engine) calledBefore(ctx context.Context, phone string, at time.Time) ([]caller, error) {
	latest := map[string]*caller{}
	err := e.scanLatest(ctx, "e.", func(r entry) {
		delete(latest, r.Key)
		var esc Escalation
		if r.Deleted || json.Unmarshal(r.Data, &esc) != nil || esc.State.Status != policy.Active {
			return
		}
		if name, ok := calledAt(&esc, phone, at); ok {
			latest[r.Key] = &caller{key: r.Key, id: esc.ID, name: name}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("find escalations that called %s: %w", phone, err)
	}
	out := make([]caller, 0, len(latest))
	for _, c := range latest {
		out = append(out, *c)
	}
	return out, nil
}

// calledAt reports whether esc called the person whose number phone is at
// or before at (to the second: a provider's log keeps whole seconds), and
// the person's name. Any of the person's numbers counts: someone called on
// their mobile may answer from their other phone.
func calledAt(esc *Escalation, phone string, at time.Time) (string, bool) {
	before := func(t time.Time) bool { return !at.Before(t.Truncate(time.Second)) }
	for _, c := range esc.Calls {
		if !before(c.At) {
			continue
		}
		for _, res := range c.Results {
			for _, p := range res.Reached {
				if hasNumber(esc, p, phone) {
					return p.Name, true
				}
			}
		}
	}
	if in := esc.Intent; in != nil && in.Started && before(in.StartedAt) {
		for _, p := range in.Run.People {
			if hasNumber(esc, p, phone) {
				return p.Name, true
			}
		}
	}
	return "", false
}

// hasNumber says whether phone is one of p's numbers: the one called, and
// every number the escalation's policy gives the person.
func hasNumber(esc *Escalation, p provider.Person, phone string) bool {
	people := []provider.Person{p}
	if esc.Policy != nil {
		if full, ok := esc.Policy.People[p.Name]; ok {
			people = append(people, full)
		}
	}
	for _, q := range people {
		if q.Phone == phone || slices.Contains(q.Alternates, phone) {
			return true
		}
		for _, ns := range q.ByProvider {
			if slices.Contains(ns, phone) {
				return true
			}
		}
	}
	return false
}

// acknowledgeBy acknowledges escalation id under key, by a person, via
// how they did it.
func (e *Engine) acknowledgeBy(ctx context.Context, key, id, by, via string) error {
	now := e.clk.Now().UTC()
	stopped := false
	s, err := e.update(ctx, key, func(cur *Escalation) (*Escalation, error) {
		stopped = false
		if cur == nil || cur.ID != id {
			return nil, nil
		}
		next := end(cur, policy.Ack, by, via, now)
		stopped = next != nil
		return next, nil
	})
	if err != nil {
		return err
	}
	if stopped {
		if err := e.rearm(ctx, s.esc); err != nil {
			return err
		}
	}
	return e.flush(ctx, s)
}
