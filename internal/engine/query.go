package engine

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

// ErrNotFound is Find's error for an escalation id that has neither a record
// nor a timeline.
var ErrNotFound = errors.New("no such escalation")

// timelineBatch is how many outcomes a timeline read asks for at once.
const timelineBatch = 500

// timelineWait bounds the wait for one batch of a timeline.
const timelineWait = 2 * time.Second

// Summary is one escalation as the API lists it.
type Summary struct {
	ID string `json:"id"`
	// ShortCode is the escalation's four-digit code (ShortCode).
	ShortCode string `json:"short_code"`
	Policy    string `json:"policy"`
	AlertID   string `json:"alert_id"`
	Alerts    int    `json:"alerts"`
	// AlertIDs are the alerts it covers now (AlertID started it).
	AlertIDs []string      `json:"alert_ids,omitempty"`
	Status   policy.Status `json:"status"`
	Step     int           `json:"step"`
	Loop     int           `json:"loop"`
	NextAt   time.Time     `json:"next_at"`
	Started  time.Time     `json:"started_at"`
	InFlight bool          `json:"in_flight"`
	// Quiet says what keeps a silenced escalation quiet, and until when.
	Quiet *Quiet `json:"quiet,omitempty"`
	// LastCalled are the people its last placed step reached.
	LastCalled []provider.Person `json:"last_called,omitempty"`
	// EndedAt and By say when it was acknowledged or ended, and by whom.
	EndedAt time.Time `json:"ended_at,omitzero"`
	By      string    `json:"by,omitempty"`
}

// StatusSilenced is a Summary's status while a silence or a maintenance
// window keeps the escalation quiet (its Quiet says which, and until when).
const StatusSilenced policy.Status = "silenced"

func summarize(esc *Escalation) Summary {
	name := ""
	if esc.Policy != nil { // always set by the engine; a damaged record still lists
		name = esc.Policy.Name
	}
	s := Summary{ID: esc.ID, ShortCode: ShortCode(esc.ID), Policy: name, AlertID: esc.AlertID, Alerts: len(esc.Alerts), Status: esc.State.Status,
		Step: esc.State.Step, Loop: esc.State.Loop, NextAt: esc.wakeAt(), Started: esc.CreatedAt, InFlight: esc.Intent != nil,
		Quiet: esc.Quiet, AlertIDs: esc.Alerts, LastCalled: lastCalled(esc), EndedAt: esc.State.EndedAt, By: esc.State.By}
	if esc.Quiet != nil {
		s.Status = StatusSilenced
	}
	return s
}

// Detail is one escalation as the API shows it: its current record, when it
// is still the latest of its group, and its timeline.
type Detail struct {
	ID         string            `json:"id"`
	Escalation *Summary          `json:"escalation,omitempty"`
	Calls      []Call            `json:"calls,omitempty"`
	Timeline   []outcome.Outcome `json:"timeline"`
}

// Active returns the escalations escalator will still act on, oldest
// first: the active ones, the silenced ones and the acknowledged ones whose
// ack_timeout is still to come. It reads every record of the bucket once.
func (e *Engine) Active(ctx context.Context) ([]Summary, error) {
	latest := map[string]Summary{}
	err := e.scanLatest(ctx, "e.", func(r entry) {
		var esc Escalation
		if r.Deleted || json.Unmarshal(r.Data, &esc) != nil || esc.over() {
			delete(latest, r.Key)
			return
		}
		latest[r.Key] = summarize(&esc)
	})
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(latest))
	for _, s := range latest {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}

// Find returns escalation id, or ErrNotFound.
func (e *Engine) Find(ctx context.Context, id string) (*Detail, error) {
	tok, _, ok := strings.Cut(id, "-")
	if !ok || len(tok) != tokenLen {
		return nil, ErrNotFound
	}
	timeline, err := e.timeline(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &Detail{ID: id, Timeline: timeline}
	esc, _, err := e.st.load(ctx, escKey(tok))
	if err != nil {
		return nil, err
	}
	if esc != nil && esc.ID == id {
		s := summarize(esc)
		d.Escalation, d.Calls = &s, esc.Calls
	} else if len(timeline) == 0 {
		return nil, ErrNotFound
	}
	return d, nil
}

// timeline reads an escalation's outcomes, in order.
func (e *Engine) timeline(ctx context.Context, id string) ([]outcome.Outcome, error) {
	c, err := e.js.OrderedConsumer(ctx, natsx.StreamOutcomes, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{natsx.OutcomesOf(id)}})
	if err != nil {
		return nil, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, err
	}
	out := []outcome.Outcome{}
	pending := int(info.NumPending)
	for pending > 0 {
		batch, err := c.Fetch(min(pending, timelineBatch), jetstream.FetchMaxWait(timelineWait))
		if err != nil {
			return nil, err
		}
		got := 0
		for m := range batch.Messages() {
			var o outcome.Outcome
			if json.Unmarshal(m.Data(), &o) == nil {
				out = append(out, o)
			}
			got++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, err
		}
		if got == 0 {
			break
		}
		pending -= got
	}
	return out, nil
}
