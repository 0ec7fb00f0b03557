package policycmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

// ErrNoRoster is returned by OnCall when no roster matches the options.
var ErrNoRoster = errors.New("no roster matches")

// DefaultNext is how many hand-offs after the current shift OnCall lists.
const DefaultNext = 3

// OnCallOptions are the inputs of OnCall.
type OnCallOptions struct {
	// Paths are policy files or directories.
	Paths []string
	// At is the moment asked about.
	At time.Time
	// Roster and Policy select the rosters (policy.OnCallQuery); empty:
	// every roster.
	Roster, Policy string
	// Next is how many hand-offs to list after the current shift (0:
	// DefaultNext; negative: none).
	Next int
	// Format is "text" (default) or "json".
	Format string
	// Providers are the deployment's providers (nil: every provider, with
	// the defaults).
	Providers provider.Kinds
}

// OnCallReport is who is on call in each roster at a moment: the JSON
// `escalator oncall --format json` writes.
type OnCallReport struct {
	At      time.Time             `json:"at"`
	Rosters []policy.RosterOnCall `json:"rosters"`
}

// OnCall writes who is on call at opt.At in the rosters of the policy
// files under opt.Paths: shared rosters by name, then each policy's own.
// It returns ErrNoRoster when none matches the options.
func OnCall(w io.Writer, opt OnCallOptions) error {
	set, err := policy.LoadWith(policy.Options{Providers: kindsOr(opt.Providers)}, opt.Paths...)
	if err != nil {
		return fmt.Errorf("load policies: %w", err)
	}
	switch {
	case opt.Next == 0:
		opt.Next = DefaultNext
	case opt.Next < 0:
		opt.Next = 0
	}
	rep := OnCallReport{At: opt.At, Rosters: set.OnCallAt(opt.At, policy.OnCallQuery{Roster: opt.Roster, Policy: opt.Policy, Next: opt.Next})}
	if len(rep.Rosters) == 0 {
		switch {
		case opt.Policy != "":
			if _, ok := set.Get(opt.Policy); !ok {
				fmt.Fprintf(w, "no policy %s\n", opt.Policy)
				return ErrNoRoster
			}
			fmt.Fprintf(w, "policy %s uses no roster\n", opt.Policy)
		case opt.Roster != "":
			fmt.Fprintf(w, "no roster %s (%s)\n", opt.Roster, rosterNames(set))
		default:
			fmt.Fprintln(w, "no roster is defined")
		}
		return ErrNoRoster
	}
	if opt.Format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write on-call report: %w", err)
		}
		return nil
	}
	WriteOnCall(w, rep)
	return nil
}

func rosterNames(set *policy.Set) string {
	var names []string
	for _, r := range set.OnCallAt(time.Time{}, policy.OnCallQuery{}) {
		names = append(names, r.Name)
	}
	if len(names) == 0 {
		return "none is defined"
	}
	return "the rosters are " + strings.Join(names, ", ")
}

// WriteOnCall writes rep for people: one block per roster, aligned, times
// in the roster's zone and relative to rep.At.
func WriteOnCall(w io.Writer, rep OnCallReport) {
	fmt.Fprintf(w, "On call at %s\n", rep.At.Format(time.RFC3339))
	for _, r := range rep.Rosters {
		fmt.Fprintln(w)
		head := r.Name
		if r.Policy != "" {
			head += " (policy " + r.Policy + "'s own roster"
		} else {
			head += " (shared roster"
		}
		head += ", " + r.File + ", " + r.TimeZone
		if len(r.UsedBy) > 0 {
			head += "; used by " + strings.Join(r.UsedBy, ", ")
		} else {
			head += "; used by no step"
		}
		fmt.Fprintln(w, head+")")
		if r.Description != "" {
			fmt.Fprintf(w, "  %s\n", r.Description)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  %-9s\t%s\t%s\t%s\t%s\n", "on call", people(r.People), source(r.Cover), since(r.OnCall), until(r.OnCall))
		if c := r.Covers; c != nil {
			fmt.Fprintf(tw, "  %-9s\t%s\t%s\n", "covering", people(c.People), source(*c))
		}
		tw.Flush()
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		lead := "rotations"
		for i := len(r.Rotations) - 1; i >= 0; i-- {
			rn := r.Rotations[i]
			if rn.Source == policy.SourceBase && len(rn.Members) == 0 {
				continue
			}
			fmt.Fprintf(tw, "  %-9s\t%s\t%s\t%s\tnow %s\n", lead, rotationName(rn), strings.Join(rn.Members, ", "), rotationRule(rn), people(rn.People))
			lead = ""
		}
		tw.Flush()
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		lead = "next"
		for _, h := range r.Next {
			fmt.Fprintf(tw, "  %-9s\t%s\t%s\t%s\n", lead, when(h.At, r.At, r.TimeZone), people(h.People), source(h.Cover))
			lead = ""
		}
		tw.Flush()
	}
}

// people writes names as "noa, ren", or "nobody".
func people(names []string) string {
	if len(names) == 0 {
		return "nobody"
	}
	return strings.Join(names, ", ")
}

// source says where a cover's people come from.
func source(c policy.Cover) string {
	switch c.Source {
	case policy.SourceOverride:
		if len(c.People) == 0 {
			return "holiday override"
		}
		return "override"
	case policy.SourceLayer:
		return "layer " + c.Layer
	case policy.SourceBase:
		return "base"
	}
	return "no layer covers, the base has nobody"
}

func rotationName(rn policy.RotationNow) string {
	if rn.Source == policy.SourceBase {
		return "base"
	}
	return "layer " + rn.Layer
}

// rotationRule describes a rotation: "2 on call, daily, mon–fri 09:00–18:00
// Asia/Tokyo".
func rotationRule(rn policy.RotationNow) string {
	parts := []string{fmt.Sprintf("%d on call", rn.AtOnce)}
	if rn.Handoff != "" {
		parts = append(parts, "hand-off "+rn.Handoff)
	}
	if len(rn.Restrict) > 0 {
		parts = append(parts, strings.Join(rn.Restrict, ", "))
	}
	return strings.Join(parts, ", ")
}

func since(oc policy.OnCall) string {
	if oc.Since.IsZero() {
		return "since ever"
	}
	return "since " + when(oc.Since, oc.At, oc.TimeZone)
}

func until(oc policy.OnCall) string {
	if oc.Until.IsZero() {
		return "no hand-off ahead"
	}
	return "until " + when(oc.Until, oc.At, oc.TimeZone)
}

// when writes t in the zone tz and relative to now: "Mon 09:00 JST, in
// 2d3h", "Fri 18:00 JST, 2h ago"; more than three days away, with the date.
func when(t, now time.Time, tz string) string {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	d := t.Sub(now)
	layout := "Mon 15:04 MST"
	if d > 3*24*time.Hour || d < -3*24*time.Hour {
		layout = "Mon 2 Jan 15:04 MST"
	}
	rel := "now"
	switch {
	case d > 0:
		rel = "in " + span(d)
	case d < 0:
		rel = span(-d) + " ago"
	}
	return lt.Format(layout) + ", " + rel
}

// span writes a positive duration in its two largest units: 2d3h, 8h,
// 1h30m, 45m, 30s.
func span(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	h := int(d % (24 * time.Hour) / time.Hour)
	m := int(d % time.Hour / time.Minute)
	switch {
	case days > 0 && h > 0:
		return fmt.Sprintf("%dd%dh", days, h)
	case days > 0:
		return fmt.Sprintf("%dd", days)
	case h > 0 && m > 0:
		return fmt.Sprintf("%dh%dm", h, m)
	case h > 0:
		return fmt.Sprintf("%dh", h)
	case m > 0:
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%ds", int(d/time.Second))
}
