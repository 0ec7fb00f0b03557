package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
)

// Sizes of the policy directories the benchmarks compare: 100 policies,
// 5 rosters of 40 people (a weekly base of 20 and a business-hours layer of
// 20, two on call at once), 200 people.
const (
	benchPolicyCount = 100
	benchRosterCount = 5
	benchRosterSize  = 40
)

// benchPerson is person j's name and number.
func benchPerson(j int) (string, string) {
	return fmt.Sprintf("p%03d", j), fmt.Sprintf("+81 90-%04d-%04d", 1000+j/10000, j%10000)
}

// rosterBody writes roster k's fields (people p<k*40> … p<k*40+39>) with
// indent before each line.
func rosterBody(k int, indent string) string {
	var base, layer []string
	for i := range benchRosterSize {
		name, _ := benchPerson(k*benchRosterSize + i)
		if i < benchRosterSize/2 {
			base = append(base, name)
		} else {
			layer = append(layer, name)
		}
	}
	lines := []string{
		"time_zone: Asia/Tokyo",
		"people: [" + strings.Join(base, ", ") + "]",
		"handoff: weekly",
		"start: \"2026-01-05T09:00:00+09:00\"",
		"layers:",
		"  - name: business-hours",
		"    people: [" + strings.Join(layer, ", ") + "]",
		"    on_call: 2",
		"    handoff: daily",
		"    start: \"2026-01-05T09:00:00+09:00\"",
		"    restrict: {days: [mon, tue, wed, thu, fri], from: \"09:00\", to: \"18:00\"}",
		"overrides:",
		"  - {person: " + base[0] + ", start: \"2026-12-28T09:00:00+09:00\", end: \"2027-01-04T09:00:00+09:00\"}",
	}
	return indent + strings.Join(lines, "\n"+indent) + "\n"
}

// benchPolicy writes policy i, whose steps notify who is on call in
// oncall and then the whole roster (rosterRef: "{roster: r2}" or "roster").
func benchPolicy(i int, extra, oncall, roster string) string {
	return fmt.Sprintf("name: svc-%03d\npriority: %d\nmatch: {labels: {service: svc-%03d}, severity: [critical, warning]}\n%s"+
		"steps:\n"+
		"  - {notify: %s, strategy: broadcast, via: [{yemot: {ivr_path: \"ivr2:/1\"}}], wait: 5m}\n"+
		"  - {notify: %s, strategy: rotation, via: [{yemot: {ivr_path: \"ivr2:/2\"}}], wait: 10m}\n",
		i, benchPolicyCount-i, i, extra, oncall, roster)
}

// writeBenchDirs writes the two directories: shared (a people file, five
// roster files, 100 policies naming them) and perFile (100 policies, each
// with its own people — the 40 of its roster — and its own roster, as
// before people and rosters could be shared).
func writeBenchDirs(b *testing.B) (shared, perFile string) {
	b.Helper()
	root := b.TempDir()
	shared, perFile = filepath.Join(root, "shared"), filepath.Join(root, "per-file")
	for _, d := range []string{shared, perFile} {
		if err := os.Mkdir(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	write := func(dir, name, y string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(y), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var people strings.Builder
	people.WriteString("people:\n")
	for j := range benchRosterCount * benchRosterSize {
		name, num := benchPerson(j)
		fmt.Fprintf(&people, "  %s: {phone: %q}\n", name, num)
	}
	write(shared, "people.yaml", people.String())
	for k := range benchRosterCount {
		write(shared, fmt.Sprintf("roster-%d.yaml", k), fmt.Sprintf("roster: r%d\n", k)+rosterBody(k, ""))
	}
	for i := range benchPolicyCount {
		k := i % benchRosterCount
		name := fmt.Sprintf("svc-%03d.yaml", i)
		write(shared, name, benchPolicy(i, "", fmt.Sprintf("{oncall: r%d}", k), fmt.Sprintf("{roster: r%d}", k)))
		var own strings.Builder
		own.WriteString("people:\n")
		for j := k * benchRosterSize; j < (k+1)*benchRosterSize; j++ {
			name, num := benchPerson(j)
			fmt.Fprintf(&own, "  %s: {phone: %q}\n", name, num)
		}
		own.WriteString("roster:\n" + rosterBody(k, "  "))
		write(perFile, name, benchPolicy(i, own.String(), "oncall", "roster"))
	}
	return shared, perFile
}

// BenchmarkSharedPolicies compares a directory of 100 policies sharing 5
// rosters and 200 people with the same policies each defining their own
// people and roster (docs/benchmarks.md): load (read, parse, validate, link,
// build the set), check (what policy check --strict computes: the load
// against the configured providers, and who is on call now in each shared
// roster), and match (the alert only the last policy takes, then Plan's
// first step, which resolves who is on call in the roster's layers).
func BenchmarkSharedPolicies(b *testing.B) {
	shared, perFile := writeBenchDirs(b)
	now := time.Date(2026, 3, 9, 1, 0, 0, 0, time.UTC) // Monday 10:00 in Tokyo: the layers cover
	ev := alert.Event{ID: "x", Status: alert.Firing, Severity: "critical",
		Labels: map[string]string{"service": fmt.Sprintf("svc-%03d", benchPolicyCount-1), "team": "t"}}
	configured := map[string]bool{"iotcall": true, "yemot": true, "ccai": true}
	for _, c := range []struct{ name, dir string }{{"per_file", perFile}, {"shared", shared}} {
		set, err := LoadWith(testOptions, c.dir)
		if err != nil {
			b.Fatalf("%s: %v", c.name, err)
		}
		if len(set.Policies) != benchPolicyCount {
			b.Fatalf("%s: %d policies", c.name, len(set.Policies))
		}
		b.Run("load/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := LoadWith(testOptions, c.dir); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("check/"+c.name, func(b *testing.B) {
			opt := testOptions
			opt.Configured = configured
			b.ReportAllocs()
			for b.Loop() {
				s, err := LoadWith(opt, c.dir)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range s.Rosters {
					r.OnCallAt(now, 0)
				}
			}
		})
		b.Run("match/"+c.name, func(b *testing.B) {
			p, ok := set.MatchAt(ev, now)
			if !ok || p.Name != fmt.Sprintf("svc-%03d", benchPolicyCount-1) {
				b.Fatalf("matched %v", p)
			}
			if d := Plan(p, State{}, Input{Kind: Start}, now); d.Run == nil || len(d.Run.People) != 2 {
				b.Fatalf("first step: %+v", d.Run)
			}
			b.ReportAllocs()
			for b.Loop() {
				p, _ := set.MatchAt(ev, now)
				Plan(p, State{}, Input{Kind: Start}, now)
			}
		})
	}
}
