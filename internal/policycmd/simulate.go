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
	// it started; zero means nobody acknowledges.
	AckedAfter time.Duration
	// Format is "text" (default) or "json".
	Format string
	// Providers are the deployment's providers, which also say how each
	// sends a number (nil: every provider, with the defaults).
	Providers provider.Kinds
}

// Timeline is what Simulate computes: the policy an alert matches, why, and
// every step it would run until it stops.
type Timeline struct {
	Alert    alert.Event      `json:"alert"`
	Start    time.Time        `json:"start"`
	Policy   string           `json:"policy"`
	File     string           `json:"file"`
	Priority int              `json:"priority"`
	Because  []string         `json:"because"`
	Passed   []policy.Verdict `json:"passed_over,omitempty"`
	Repeat   int              `json:"repeat"`
	Entries  []Entry          `json:"entries"`
	End      End              `json:"end"`
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
	Via           []Link            `json:"via,omitempty"`
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
}

// End says where the escalation stops.
type End struct {
	Status        policy.Status `json:"status"`
	Offset        string        `json:"offset"`
	OffsetSeconds int64         `json:"offset_seconds"`
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
		for _, v := range set.Explain(opt.Alert) {
			fmt.Fprintf(w, "  %s: %s\n", v.Policy, v.Reasons[0])
		}
		return err
	}
	if opt.Format == "json" {
		return writeJSON(w, tl)
	}
	return writeText(w, tl, opt.AckedAfter)
}

// Plan computes the timeline of opt.Alert under set.
func Plan(set *policy.Set, opt SimulateOptions) (*Timeline, error) {
	p, ok := set.Match(opt.Alert)
	if !ok {
		return nil, ErrNoMatch
	}
	tl := &Timeline{Alert: opt.Alert, Start: opt.At, Policy: p.Name, File: p.File, Priority: p.Priority, Repeat: p.Repeat}
	for _, v := range set.Explain(opt.Alert) {
		if v.Matched {
			tl.Because = v.Reasons
		} else {
			tl.Passed = append(tl.Passed, v)
		}
	}
	ackAt := time.Time{}
	if opt.AckedAfter > 0 {
		ackAt = opt.At.Add(opt.AckedAfter)
	}
	now := opt.At
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
		now = next
		d = policy.Plan(p, d.State, policy.Input{Kind: policy.Timer, At: next}, now)
	}
	if d.State.Status != policy.Active {
		off := now.Sub(opt.At)
		tl.End = End{Status: d.State.Status, Offset: offset(off), OffsetSeconds: int64(off / time.Second)}
	}
	return tl, nil
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
	e.Wait, e.People = offset(r.Wait), r.People
	for _, v := range r.Via {
		e.Via = append(e.Via, link(v, r.People, kinds.Lookup(v.Provider)))
	}
	tl.Entries = append(tl.Entries, e)
}

func link(v provider.Via, people []provider.Person, kind provider.Kind) Link {
	l := Link{Provider: v.Provider, Settings: settings(v)}
	dialer, _ := kind.(provider.Dialer)
	for _, p := range people {
		n := SentNumber{Person: p.Name, Number: p.Phone}
		if dialer != nil {
			d, err := dialer.Dial(p.Phone)
			n.Number, n.CountryID = d.Number, d.CountryID
			if err != nil {
				n.Error = err.Error()
			}
		}
		l.Numbers = append(l.Numbers, n)
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
