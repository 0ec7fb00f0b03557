// Package policycmd implements `escalator policy check`, `escalator policy
// simulate` and `escalator oncall`: it validates policy files for people and
// tools, shows what an alert would set in motion without calling anyone, and
// who is on call in each roster.
package policycmd

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/providers"
)

// ErrInvalid is returned by Check when the policies have problems (they have
// been printed).
var ErrInvalid = errors.New("policies are invalid")

// CheckOptions are the inputs of Check.
type CheckOptions struct {
	// Paths are policy files or directories.
	Paths []string
	// Strict also refuses steps using a provider not in Configured.
	Strict     bool
	Configured map[string]bool
	// Providers are the deployment's providers (nil: every provider, with
	// the defaults).
	Providers provider.Kinds
	// Now is when the rosters' "on call now" is read (zero: the clock).
	Now time.Time
}

// Check validates the policies, heartbeat monitors, people files and shared
// rosters under opt.Paths and writes to w either every problem, one a line,
// followed by a count (returning ErrInvalid), or one summary line per policy
// in match order, one per heartbeat monitor and per shared roster in name
// order, and one per people file.
func Check(w io.Writer, opt CheckOptions) error {
	lopt := policy.Options{Providers: kindsOr(opt.Providers)}
	if opt.Strict {
		lopt.Configured = opt.Configured
		if lopt.Configured == nil {
			lopt.Configured = map[string]bool{}
		}
	}
	set, err := policy.LoadWith(lopt, opt.Paths...)
	var probs policy.Problems
	if err != nil && !errors.As(err, &probs) {
		return fmt.Errorf("check policies: %w", err)
	}
	if len(probs) > 0 {
		files := map[string]bool{}
		for _, p := range probs {
			fmt.Fprintln(w, p.String())
			files[p.File] = true
		}
		fmt.Fprintf(w, "%s in %s\n", plural(len(probs), "problem"), plural(len(files), "file"))
		return ErrInvalid
	}
	timed := false
	for _, p := range set.Policies {
		timed = timed || timesSummary(p) != ""
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, p := range set.Policies {
		times := ""
		if timed {
			times = timesSummary(p) + "\t"
		}
		fmt.Fprintf(tw, "ok\t%s\tpriority %d\t%s, repeat %d\tvia %s\t%s\t%s%s\n", p.Name, p.Priority,
			plural(len(p.Steps), "step"), p.Repeat, strings.Join(providersOf(p), ","), matchSummary(&p.Match), times, p.File)
	}
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, h := range set.Heartbeats {
		fmt.Fprintf(tw, "ok\theartbeat %s\tevery %s\t%s\t%s\n", h.Name, offset(h.Every), labelsSummary(h.Labels), h.File)
	}
	tw.Flush()
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, pf := range set.People {
		fmt.Fprintf(tw, "ok\tpeople\t%s\t%s\n", plural(len(pf.People), "person"), pf.File)
	}
	for _, r := range set.Rosters {
		oc := r.OnCallAt(now, 0)
		fmt.Fprintf(tw, "ok\troster %s\t%s\ton call now: %s (%s)\t%s\n", r.Name, rosterSummary(r), people(oc.People), source(oc.Cover), r.File)
	}
	tw.Flush()
	counts := []string{plural(len(set.Policies), "policy")}
	if n := len(set.Heartbeats); n > 0 {
		counts = append(counts, plural(n, "heartbeat"))
	}
	if n := len(set.People); n > 0 {
		counts = append(counts, plural(n, "people file"))
	}
	if n := len(set.Rosters); n > 0 {
		counts = append(counts, plural(n, "roster"))
	}
	fmt.Fprintf(w, "%s valid\n", andList(counts))
	return nil
}

// rosterSummary describes a shared roster: its rotations and how many are
// on call at once: "base of 3 + 1 layer, up to 2 on call".
func rosterSummary(r *policy.Roster) string {
	var parts []string
	if n := len(r.People); n > 0 {
		parts = append(parts, fmt.Sprintf("base of %d", n))
	}
	if n := len(r.Layers); n > 0 {
		parts = append(parts, plural(n, "layer"))
	}
	if len(parts) == 0 {
		parts = append(parts, "overrides only")
	}
	s := strings.Join(parts, " + ")
	if n := r.MaxOnCall(); n > 1 {
		s += fmt.Sprintf(", up to %d on call", n)
	}
	if n := len(r.Overrides); n > 0 {
		s += ", " + plural(n, "override")
	}
	return s
}

// andList writes "a", "a and b", "a, b and c".
func andList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// timesSummary describes what a policy says of time: when it is active, its
// ack_timeout and its maintenance windows; "" when nothing.
func timesSummary(p *policy.Policy) string {
	var parts []string
	if len(p.ActiveTime) > 0 {
		var ws []string
		for _, w := range p.ActiveTime {
			ws = append(ws, w.String())
		}
		parts = append(parts, "active "+strings.Join(ws, ", "))
	}
	if p.AckTimeout > 0 {
		parts = append(parts, "ack_timeout "+offset(p.AckTimeout))
	}
	if n := len(p.Maintenance); n > 0 {
		parts = append(parts, plural(n, "maintenance window"))
	}
	return strings.Join(parts, "; ")
}

func labelsSummary(labels map[string]string) string {
	if len(labels) == 0 {
		return "no labels"
	}
	var parts []string
	for _, k := range sortedKeys(labels) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, labels[k]))
	}
	return "labels: " + strings.Join(parts, " ")
}

func providersOf(p *policy.Policy) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range p.Steps {
		for _, v := range s.Via {
			if !seen[v.Provider] {
				seen[v.Provider] = true
				out = append(out, v.Provider)
			}
		}
	}
	return out
}

func matchSummary(m *policy.Match) string {
	var parts []string
	for _, k := range sortedKeys(m.Labels) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, m.Labels[k]))
	}
	for _, k := range sortedKeys(m.LabelsRegex) {
		parts = append(parts, fmt.Sprintf("%s=~/%s/", k, m.LabelsRegex[k]))
	}
	if len(m.Severity) > 0 {
		parts = append(parts, "severity in ["+strings.Join(m.Severity, ",")+"]")
	}
	if len(parts) == 0 {
		return "match: every alert"
	}
	return "match: " + strings.Join(parts, " ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if word == "person" {
		return fmt.Sprintf("%d people", n)
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// kindsOr returns ks, or every provider with the defaults when ks is nil.
func kindsOr(ks provider.Kinds) provider.Kinds {
	if ks == nil {
		return providers.Kinds()
	}
	return ks
}
