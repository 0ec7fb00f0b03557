// Package policy is escalator's on-call policies: their schema, strict YAML
// loading with every problem located by file, line and YAML path, provider
// validation, matching alerts to policies, rosters with time-zone-correct
// hand-offs, and Plan, the pure function that says what an escalation does
// next.
//
// It knows nothing of NATS, HTTP or the real clock. Everything in a Policy
// round-trips through encoding/json, so the engine can snapshot the policy an
// escalation started with.
package policy

import (
	"time"

	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/yamlx"
)

// MinWait is the shortest wait a step may have.
const MinWait = time.Second

// Problem is one thing wrong in a policy file, with where it is.
type Problem = yamlx.Problem

// Problems is every problem found in a set of policy files. It is the error
// Load and Parse return; Error joins the problems one a line.
type Problems = yamlx.Problems

// Policy is one on-call policy: which alerts it takes, whom it calls, how,
// and in what order.
type Policy struct {
	// Name is unique across all loaded files.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// File is the file the policy was read from.
	File string `json:"file,omitempty"`
	// Priority orders overlapping policies: higher wins, ties go to the
	// alphabetically first name.
	Priority int   `json:"priority,omitempty"`
	Match    Match `json:"match"`
	// GroupBy names the labels whose values group alerts into one escalation.
	GroupBy []string `json:"group_by,omitempty"`
	// AcknowledgeOnAnswer makes a provider's "answered" report count as an
	// acknowledgement.
	AcknowledgeOnAnswer bool `json:"acknowledge_on_answer,omitempty"`
	// People are the named targets, by name: the policy's own people and
	// the people of the people files it uses (in its steps, its roster and
	// the shared rosters it names), so that its snapshot holds everyone.
	People map[string]provider.Person `json:"people,omitempty"`
	// Roster is the policy's own roster, if any.
	Roster *Roster `json:"roster,omitempty"`
	// Rosters are the shared rosters its steps name, by name.
	Rosters map[string]*Roster `json:"rosters,omitempty"`
	// Steps run in order; after the last, they run again Repeat more times.
	Steps  []Step `json:"steps"`
	Repeat int    `json:"repeat,omitempty"`
	// AckTimeout, when positive, re-pages an acknowledged escalation whose
	// alerts still fire that long after the acknowledgement: it starts
	// again from step 1 (outcome "unacknowledged" first).
	AckTimeout time.Duration `json:"ack_timeout,omitempty"`
	// ActiveTime, when not empty, are the only times the policy matches
	// (ActiveAt).
	ActiveTime []TimeWindow `json:"active_time,omitempty"`
	// Maintenance are the windows during which the policy's alerts behave
	// as silenced (MaintenanceAt).
	Maintenance []Window `json:"maintenance,omitempty"`

	pos Problem // where the name was written
}

// TimeWindow is a weekly time of day: on Days (sun … sat; empty: every
// day), From to To ("09:00" to "18:00"; To before From runs past midnight)
// in TimeZone (IANA name; empty: UTC).
type TimeWindow struct {
	Days     []string `json:"days,omitempty"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	TimeZone string   `json:"time_zone,omitempty"`
}

// Window is a maintenance window: one-off (Start to End) or weekly (Weekly).
type Window struct {
	Start  time.Time   `json:"start,omitzero"`
	End    time.Time   `json:"end,omitzero"`
	Weekly *TimeWindow `json:"weekly,omitempty"`
}

// Heartbeat is a monitor defined by a file whose top-level key is
// `heartbeat:` (the dead-man's switch): when no ping has arrived for Every,
// a firing alert with id "heartbeat/<Name>", the Labels plus
// heartbeat=<Name>, and the Summary is raised; the next ping resolves it.
type Heartbeat struct {
	Name    string            `json:"name"`
	Every   time.Duration     `json:"every"`
	Labels  map[string]string `json:"labels,omitempty"`
	Summary string            `json:"summary,omitempty"`
	// File is the file it was read from.
	File string `json:"file,omitempty"`

	pos Problem // where the name was written
}

// Notify kinds: whom a step calls.
const (
	// NotifyPeople calls the people listed by name.
	NotifyPeople = "people"
	// NotifyOnCall calls whoever is on call in a roster at the moment the
	// step starts.
	NotifyOnCall = "oncall"
	// NotifyRoster calls the whole roster, starting from whoever is on call.
	NotifyRoster = "roster"
)

// Notify is a step's target: named people, who is on call in a roster, or
// the whole roster.
type Notify struct {
	// Kind is NotifyPeople, NotifyOnCall or NotifyRoster.
	Kind string `json:"kind"`
	// People are the names, in order, when Kind is NotifyPeople.
	People []string `json:"people,omitempty"`
	// Roster names the shared roster of NotifyOnCall or NotifyRoster
	// ({oncall: <roster>}, {roster: <roster>}); empty: the policy's own.
	Roster string `json:"roster,omitempty"`
}

// Step is one stage of an escalation.
type Step struct {
	Notify Notify `json:"notify"`
	// Strategy is how the people are called; provider.RoundRobin calls one
	// of them per escalation, in turn (Plan gives every candidate and the
	// key of the position; the engine picks).
	Strategy provider.Strategy `json:"strategy"`
	// StopOnAnswer (broadcast): stop calling the others as soon as one answers.
	StopOnAnswer bool `json:"stop_on_answer,omitempty"`
	// PassOn (rotation): the one who answers may pass it on (IoTCall's press-9).
	PassOn bool `json:"pass_on,omitempty"`
	// Via is the ordered fallback chain of providers.
	Via []provider.Via `json:"via"`
	// Wait is how long to wait for an acknowledgement before the next step.
	Wait time.Duration `json:"wait"`

	viaPos []Problem // where each via entry was written, for Strict
}
