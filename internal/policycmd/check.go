// Package policycmd implements `escalator policy check` and `escalator policy
// simulate`: it validates policy files for people and tools, and shows what
// an alert would set in motion without calling anyone.
package policycmd

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

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
}

// Check validates the policies under opt.Paths and writes to w either every
// problem, one a line, followed by a count (returning ErrInvalid), or one
// summary line per policy in match order.
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
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, p := range set.Policies {
		fmt.Fprintf(tw, "ok\t%s\tpriority %d\t%s, repeat %d\tvia %s\t%s\t%s\n", p.Name, p.Priority,
			plural(len(p.Steps), "step"), p.Repeat, strings.Join(providersOf(p), ","), matchSummary(&p.Match), p.File)
	}
	tw.Flush()
	fmt.Fprintf(w, "%s valid\n", plural(len(set.Policies), "policy"))
	return nil
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
