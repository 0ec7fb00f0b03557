package policycmd

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

// ErrNoMatch is returned by Simulate when no policy takes the alert.
var ErrNoMatch = errors.New("no policy matches the alert")

// SimulateOptions are the inputs of Simulate.
type SimulateOptions struct {
	// Paths are policy files or directories.
	Paths []string
	// Alert is the alert to simulate.
	Alert alert.Event
	// At is when the escalation starts.
	At time.Time
	// AckedAfter, when positive, acknowledges the escalation that long after
	// its first step (At, or the end of a maintenance window that covers
	// At); zero means nobody acknowledges.
	AckedAfter time.Duration
	// Format is "text" (default) or "json".
	Format string
	// Providers are the deployment's providers, which also say how each
	// sends a number (nil: every provider, with the defaults).
	Providers provider.Kinds
}

// Timeline is what Simulate computes: the policy an alert matches at its
// time, why, and every step it would run until it stops. Offsets count from
// Start, when the alert fires.
type Timeline struct {
	Alert    alert.Event      `json:"alert"`
	Start    time.Time        `json:"start"`
	Policy   string           `json:"policy"`
	File     string           `json:"file"`
	Priority int              `json:"priority"`
	Because  []string         `json:"because"`
	Passed   []policy.Verdict `json:"passed_over,omitempty"`
	// AlsoMatching are the policies lower in match order that would take
	// the alert at Start too (listed when any policy has active_time).
	AlsoMatching []Contender `json:"also_matching,omitempty"`
	// Maintenance, when set, is the maintenance window of the policy that
	// covers Start: the first step waits for its end.
	Maintenance *Quiet  `json:"maintenance,omitempty"`
	Repeat      int     `json:"repeat"`
	Entries     []Entry `json:"entries"`
	End         End     `json:"end"`
}

// Contender is a policy that would take the alert too, but is lower in
// match order.
type Contender struct {
	Policy   string `json:"policy"`
	Priority int    `json:"priority"`
}

// Quiet is a maintenance window keeping the escalation quiet from an offset
// until a time.
type Quiet struct {
	// Window is which window: "window 2, weekly sun 01:00–03:00 Asia/Tokyo".
	Window        string    `json:"window"`
	Offset        string    `json:"offset"`
	OffsetSeconds int64     `json:"offset_seconds"`
	Until         time.Time `json:"until"`
	// UntilOffset is Until as an offset from the start.
	UntilOffset        string `json:"until_offset"`
	UntilOffsetSeconds int64  `json:"until_offset_seconds"`
}

// Entry is one step run, or one step skipped, at an offset from the start.
type Entry struct {
	Offset        string            `json:"offset"`
	OffsetSeconds int64             `json:"offset_seconds"`
	Step          int               `json:"step"`
	Loop          int               `json:"loop"`
	Skipped       string            `json:"skipped,omitempty"`
	Strategy      provider.Strategy `json:"strategy,omitempty"`
	StopOnAnswer  bool              `json:"stop_on_answer,omitempty"`
	PassOn        bool              `json:"pass_on,omitempty"`
	Wait          string            `json:"wait,omitempty"`
	People        []provider.Person `json:"people,omitempty"`
	// RoundRobin, for a step of strategy round_robin, is the key of the
	// position the worker keeps: People are the candidates, and one of
	// them is called, the next one for the next escalation.
	RoundRobin string `json:"round_robin,omitempty"`
	// Roster is the shared roster the step names ("" for the policy's own);
	// OnCall, for a step that notifies a roster, is who is on call in it
	// when the step starts, from which layer, covering whom.
	Roster string         `json:"roster,omitempty"`
	OnCall *policy.OnCall `json:"on_call,omitempty"`
	Via    []Link         `json:"via,omitempty"`
}

// Link is one provider of a step's fallback chain with the exact numbers it
// would be sent.
type Link struct {
	Provider string       `json:"provider"`
	Settings string       `json:"settings"`
	Numbers  []SentNumber `json:"numbers"`
}

// SentNumber is one person's number as a provider receives it.
type SentNumber struct {
	Person    string `json:"person"`
	Number    string `json:"number,omitempty"`
	CountryID int    `json:"country_id,omitempty"`
	Error     string `json:"error,omitempty"`
	// Alternate is a further number of the person, tried with the same
	// provider when the one before is refused or cannot be reached.
	Alternate bool `json:"alternate,omitempty"`
}

// End says where the escalation stops.
type End struct {
	Status        policy.Status `json:"status"`
	Offset        string        `json:"offset"`
	OffsetSeconds int64         `json:"offset_seconds"`
	// Repage, when the escalation is acknowledged under a policy with an
	// ack_timeout, is when it pages again from step 1 if its alert still
	// fires.
	Repage *Repage `json:"repage,omitempty"`
	// Maintenance, when a step falls in a maintenance window, is that
	// window: the steps wait for its end and then start again from step 1
	// (the escalation is still active; the timeline stops there).
	Maintenance *Quiet `json:"maintenance,omitempty"`
}

// Repage is the re-page of an acknowledged escalation after its policy's
// ack_timeout.
type Repage struct {
	AckTimeout    string `json:"ack_timeout"`
	Offset        string `json:"offset"`
	OffsetSeconds int64  `json:"offset_seconds"`
	// Maintenance, when the re-page falls in a maintenance window, holds
	// it until the window ends.
	Maintenance *Quiet `json:"maintenance,omitempty"`
}

// Simulate writes to w the timeline opt.Alert would set in motion. It calls
// nobody. It returns ErrNoMatch when no policy takes the alert.
func Simulate(w io.Writer, opt SimulateOptions) error {
	opt.Providers = kindsOr(opt.Providers)
	set, err := policy.LoadWith(policy.Options{Providers: opt.Providers}, opt.Paths...)
	if err != nil {
		return fmt.Errorf("load policies: %w", err)
	}
	tl, err := Plan(set, opt)
	if err != nil {
		fmt.Fprintf(w, "no policy matches alert %s\n", opt.Alert.ID)
		for _, v := range set.ExplainAt(opt.Alert, opt.At) {
			fmt.Fprintf(w, "  %s: %s\n", v.Policy, v.Reasons[0])
		}
		return err
	}
	if opt.Format == "json" {
		return writeJSON(w, tl)
	}
	return writeText(w, tl, opt.AckedAfter)
}

// Plan computes the timeline of opt.Alert under set, at opt.At.
func Plan(set *policy.Set, opt SimulateOptions) (*Timeline, error) {
	p, ok := set.MatchAt(opt.Alert, opt.At)
	if !ok {
		return nil, ErrNoMatch
	}
	tl := &Timeline{Alert: opt.Alert, Start: opt.At, Policy: p.Name, File: p.File, Priority: p.Priority, Repeat: p.Repeat}
	for _, v := range set.ExplainAt(opt.Alert, opt.At) {
		if v.Matched {
			tl.Because = v.Reasons
		} else {
			tl.Passed = append(tl.Passed, v)
		}
	}
	if timed(set) {
		after := false
		for _, q := range set.Policies {
			if q == p {
				after = true
			} else if after && q.ActiveAt(opt.At) && q.Match.Matches(opt.Alert) {
				tl.AlsoMatching = append(tl.AlsoMatching, Contender{Policy: q.Name, Priority: q.Priority})
			}
		}
	}
	now := opt.At
	if q := tl.quiet(p, now); q != nil {
		tl.Maintenance = q
		now = q.Until
	}
	ackAt := time.Time{}
	if opt.AckedAfter > 0 {
		ackAt = now.Add(opt.AckedAfter)
	}
	d := policy.Plan(p, policy.State{}, policy.Input{Kind: policy.Start, At: now}, now)
	for range 100000 {
		tl.add(p, d, now, opt.Providers)
		if d.State.Status != policy.Active {
			break
		}
		next := d.NextAt
		if !ackAt.IsZero() && !ackAt.After(next) {
			now = ackAt
			d = policy.Plan(p, d.State, policy.Input{Kind: policy.Ack, At: now, By: "simulate"}, now)
			continue
		}
		nd := policy.Plan(p, d.State, policy.Input{Kind: policy.Timer, At: next}, next)
		if q := tl.quiet(p, next); q != nil && nd.Run != nil {
			// The engine holds a step that falls in a maintenance window
			// and starts again from step 1 when it ends.
			tl.End = End{Status: policy.Active, Offset: q.Offset, OffsetSeconds: q.OffsetSeconds, Maintenance: q}
			return tl, nil
		}
		now, d = next, nd
	}
	if d.State.Status != policy.Active {
		off := now.Sub(opt.At)
		tl.End = End{Status: d.State.Status, Offset: offset(off), OffsetSeconds: int64(off / time.Second)}
		if d.State.Status == policy.Acknowledged && !d.NextAt.IsZero() {
			re := d.NextAt.Sub(opt.At)
			tl.End.Repage = &Repage{AckTimeout: offset(p.AckTimeout), Offset: offset(re), OffsetSeconds: int64(re / time.Second),
				Maintenance: tl.quiet(p, d.NextAt)}
		}
	}
	return tl, nil
}

// timed reports whether any policy of set has active_time: then which
// policy takes an alert depends on when.
func timed(set *policy.Set) bool {
	for _, p := range set.Policies {
		if len(p.ActiveTime) > 0 {
			return true
		}
	}
	return false
}

// quiet returns the maintenance window of p that covers t, or nil.
func (tl *Timeline) quiet(p *policy.Policy, t time.Time) *Quiet {
	end, which, ok := p.MaintenanceAt(t)
	if !ok {
		return nil
	}
	off, until := t.Sub(tl.Start), end.Sub(tl.Start)
	return &Quiet{Window: which, Offset: offset(off), OffsetSeconds: int64(off / time.Second),
		Until: end.In(tl.Start.Location()), UntilOffset: offset(until), UntilOffsetSeconds: int64(until / time.Second)}
}

func (tl *Timeline) add(p *policy.Policy, d policy.Decision, now time.Time, kinds provider.Kinds) {
	off := now.Sub(tl.Start)
	at := Entry{Offset: offset(off), OffsetSeconds: int64(off / time.Second)}
	for _, s := range d.Skipped {
		e := at
		e.Step, e.Loop, e.Skipped = s.Step, s.Loop, s.Reason
		tl.Entries = append(tl.Entries, e)
	}
	r := d.Run
	if r == nil {
		return
	}
	e := at
	e.Step, e.Loop, e.Strategy, e.StopOnAnswer, e.PassOn = r.Step, r.Loop, r.Strategy, r.StopOnAnswer, r.PassOn
	e.Wait, e.People, e.RoundRobin = offset(r.Wait), r.People, r.RoundRobin
	if nt := p.Steps[r.Step].Notify; nt.Kind != policy.NotifyPeople {
		e.Roster = nt.Roster
		if ro := p.RosterOf(nt); ro != nil && r.Strategy != provider.RoundRobin {
			oc := ro.OnCallAt(now, 0)
			e.OnCall = &oc
		}
	}
	for _, v := range r.Via {
		e.Via = append(e.Via, link(v, r.People, kinds.Lookup(v.Provider)))
	}
	tl.Entries = append(tl.Entries, e)
}

func link(v provider.Via, people []provider.Person, kind provider.Kind) Link {
	l := Link{Provider: v.Provider, Settings: settings(v)}
	dialer, _ := kind.(provider.Dialer)
	for _, p := range people {
		for i, num := range p.Numbers(v.Provider) {
			n := SentNumber{Person: p.Name, Number: num, Alternate: i > 0}
			if dialer != nil {
				d, err := dialer.Dial(num)
				n.Number, n.CountryID = d.Number, d.CountryID
				if err != nil {
					n.Error = err.Error()
				}
			}
			l.Numbers = append(l.Numbers, n)
		}
	}
	return l
}

// offset formats a duration compactly: 0s, 5m, 1h30m, 90s → 1m30s.
func offset(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	s := d.String()
	for _, suf := range []string{"m0s", "h0m"} {
		if len(s) > len(suf) && s[len(s)-len(suf):] == suf {
			s = s[:len(s)-len(suf)+1]
		}
	}
	return s
}
