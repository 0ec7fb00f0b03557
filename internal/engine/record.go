package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

// Escalation is one escalation's record in the KV bucket: the policy it
// started with (a snapshot: editing a file changes new escalations, not
// running ones), where it stands, the alerts it covers and the calls made.
type Escalation struct {
	ID       string            `json:"id"`
	Key      string            `json:"key"`
	Policy   *policy.Policy    `json:"policy"`
	GroupKey string            `json:"group_key"`
	AlertID  string            `json:"alert_id"`
	Alerts   []string          `json:"alerts"`
	Grouped  int               `json:"grouped"`
	Summary  string            `json:"summary,omitempty"`
	Severity string            `json:"severity,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	State    policy.State      `json:"state"`
	Intent   *Intent           `json:"intent,omitempty"`
	Calls    []Call            `json:"calls,omitempty"`
	// Quiet, when set, keeps the escalation silent (a silence or a
	// maintenance window) until Quiet.Until; then, if its alerts still
	// fire, it starts again from step 1.
	Quiet *Quiet `json:"quiet,omitempty"`
	// Round counts the restarts from step 1 (after a silence, or a re-page
	// of an acknowledged escalation); outcome message ids carry it.
	Round int `json:"round,omitempty"`
	// Outbox holds, in order, the outcomes of saved transitions not yet
	// known to be published (see outbox.go).
	Outbox    []Pending `json:"outbox,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// AlertAt is when the first alert was stored, for the alert-to-dispatch latency.
	AlertAt time.Time `json:"alert_at"`
}

// Quiet is why an escalation is silent, and until when.
type Quiet struct {
	Until time.Time `json:"until"`
	// Silence is the id of the silence that keeps it quiet, or Maintenance
	// the policy's maintenance window.
	Silence     string `json:"silence,omitempty"`
	Maintenance string `json:"maintenance,omitempty"`
}

// Intent is a step whose calls are about to be, or being, placed. It is
// recorded before calling a provider and cleared when the result is
// recorded. An intent found Started whose lease has run out means the worker
// placing it stopped between calling and recording: the step is "in doubt"
// and is placed again (a duplicate call is better than a missed page).
type Intent struct {
	Run     policy.StepRun `json:"run"`
	Started bool           `json:"started"`
	// StartedAt is when its calls began to be placed (the last claim).
	StartedAt  time.Time `json:"started_at,omitempty"`
	Owner      string    `json:"owner,omitempty"`
	LeaseUntil time.Time `json:"lease_until"`
	Redone     int       `json:"redone,omitempty"`
	// Pick is a round-robin step's pick (positions.pick): the person
	// called is Run.People[Pick % len]. Set before the calls are placed,
	// so that a step placed again calls the same person.
	Pick *uint64 `json:"pick,omitempty"`
}

// Call is one step's dispatch, as recorded.
type Call struct {
	Step int       `json:"step"`
	Loop int       `json:"loop"`
	At   time.Time `json:"at"`
	// InDoubt marks a step placed again after a worker stopped between
	// calling and recording.
	InDoubt   bool                 `json:"in_doubt,omitempty"`
	Results   []dispatch.Result    `json:"results,omitempty"`
	Unreached []provider.Unreached `json:"unreached,omitempty"`
	NotCalled []provider.Unreached `json:"not_called,omitempty"`
}

// tokenLen is the length of an escalation key's token (hash's output).
const tokenLen = 24

func hash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:tokenLen/2])
}

// groupKey is the key alerts of one group share: the policy's group_by label
// values, or the alert id when it has none.
func groupKey(p *policy.Policy, id string, labels map[string]string) string {
	if len(p.GroupBy) == 0 {
		return "id=" + id
	}
	var b strings.Builder
	for _, l := range p.GroupBy {
		b.WriteString(l + "=" + labels[l] + ",")
	}
	return b.String()
}

func escKey(token string) string     { return "e." + token }
func alertKey(alertID string) string { return "a." + hash(alertID) }

// apply records a plan decision in esc: its state, the step to place (an
// intent), and its outcomes, in esc's outbox, at now.
func (esc *Escalation) apply(dec policy.Decision, now time.Time) {
	esc.State = dec.State
	if dec.Run != nil {
		esc.Intent = &Intent{Run: *dec.Run}
	}
	for _, s := range dec.Skipped {
		o := newOutcome(esc, outcome.Skipped, s.Step, s.Loop, now)
		o.Reason = s.Reason
		esc.emit(o, esc.msgID(outcome.Skipped, s.Step, s.Loop))
	}
	for _, name := range dec.Events {
		o := newOutcome(esc, name, dec.State.Step, dec.State.Loop, now)
		o.By, o.Via, o.Alerts, o.Summary = dec.State.By, dec.State.Via, len(esc.Alerts), esc.Summary
		esc.emit(o, esc.msgID(name, o.Step, o.Loop))
	}
}

func remove(list []string, s string) []string {
	return slices.DeleteFunc(list, func(v string) bool { return v == s })
}
