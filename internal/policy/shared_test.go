package policy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/escalator-oss/escalator/internal/provider"
)

// Documents for the tables below: a people file, a shared roster, and a
// policy that uses them.
const (
	peopleDoc = "people:\n  aiko: {phone: '+81 80-1234-5678'}\n  kenji: {phone: '+81 90-1111-2222'}\n  yuki: {phone: '+81 70-1234-5678'}\n"
	rosterDoc = "roster: db\npeople: [aiko, kenji]\nhandoff: weekly\nstart: 2026-01-05T09:00:00+09:00\n"
	layerDoc  = "roster: db\nlayers:\n  - {name: day, people: [aiko, kenji, yuki], on_call: 2, handoff: daily, start: 2026-01-05T09:00:00+09:00}\n"
)

// usePolicy is a policy whose one step notifies notify with strategy.
func usePolicy(notify, strategy string) string {
	return "name: p\nsteps: [{notify: " + notify + ", strategy: " + strategy + ", via: [{yemot: {ivr_path: 'ivr2:/1'}}], wait: 1m}]\n"
}

func docs(ds ...string) string { return strings.Join(ds, "---\n") }

func TestSharedProblems(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"a people file alone", peopleDoc, ""},
		{"a people file with a description", "description: everyone\n" + peopleDoc, ""},
		{"a people file with nobody", "people: {}\n", "x.yaml:1:9: people: must define at least one person, e.g. aiko: {phone: \"+81 80-1234-5678\"}"},
		{"a people file with an unknown key", "people: {a: {phone: '+81 80-1234-5678'}}\nteam: db\n",
			"x.yaml:2:1: team: unknown key (known keys: people, description)"},
		{"phones", "people:\n  a: {phones: ['+81 80-1234-5678', '+81 3-1234-5678']}\n", ""},
		{"phone and phones", "people:\n  a: {phone: '+81 80-1234-5678', phones: ['+81 3-1234-5678']}\n",
			"x.yaml:2:42: people.a.phones: phone and phones are two ways to give the numbers: keep one (phones: [first, second], tried in order)"},
		{"no number", "people:\n  a: {by_provider: {yemot: '+972 52-234-5678'}}\n",
			"x.yaml:2:6: people.a.phone: is required: the number in international form, e.g. \"+81 80-1234-5678\" (or phones: a list, tried in order)"},
		{"phones empty", "people:\n  a: {phones: []}\n", "x.yaml:2:15: people.a.phones: must have at least one number"},
		{"phones twice the same", "people:\n  a: {phones: ['+81 80-1234-5678', '+81 80 1234 5678']}\n",
			"x.yaml:2:36: people.a.phones[1]: +818012345678 is listed twice"},
		{"phones not international", "people:\n  a: {phones: ['+81 80-1234-5678', '03-1234-5678']}\n",
			"x.yaml:2:36: people.a.phones[1]: phone number \"03-1234-5678\" must be in international form, starting with + and the country code"},
		{"by_provider", "people:\n  a: {phone: '+81 80-1234-5678', by_provider: {yemot: '+972 52-234-5678', ccai: ['+1 415 555 2671', '+1 415 555 2672']}}\n", ""},
		{"by_provider unknown provider", "people:\n  a: {phone: '+81 80-1234-5678', by_provider: {twilio: '+972 52-234-5678'}}\n",
			"x.yaml:2:48: people.a.by_provider.twilio: unknown provider \"twilio\": by_provider takes iotcall, yemot or ccai"},
		{"by_provider bad number", "people:\n  a: {phone: '+81 80-1234-5678', by_provider: {yemot: ['+972 52-234-5678', 'x']}}\n",
			"x.yaml:2:76: people.a.by_provider.yemot[1]: phone number \"x\" must be in international form, starting with + and the country code"},
		{"by_provider empty", "people:\n  a: {phone: '+81 80-1234-5678', by_provider: {}}\n",
			"x.yaml:2:47: people.a.by_provider: must name at least one provider (iotcall, yemot or ccai) with its numbers, or be left out"},
		{"a person named oncall", "people:\n  oncall: {phone: '+81 80-1234-5678'}\n",
			"x.yaml:2:3: people.oncall: \"oncall\" cannot name a person: use letters, digits, '-', '_' or '.', and not oncall or roster"},

		{"a policy naming shared people", docs(peopleDoc, usePolicy("[aiko, kenji]", "broadcast")), ""},
		{"a policy's own person, the same numbers", docs(peopleDoc,
			"name: p\npeople: {aiko: {phone: '+81 80 1234 5678'}}\nsteps: [{notify: [aiko, kenji], strategy: broadcast, via: [{yemot: {ivr_path: 'ivr2:/1'}}], wait: 1m}]\n"), ""},
		{"a policy's own person, other numbers", docs(peopleDoc,
			"name: p\npeople: {aiko: {phone: '+81 80-9999-8888'}}\nsteps: [{notify: [aiko], via: [{yemot: {ivr_path: 'ivr2:/1'}}], wait: 1m}]\n"),
			"x.yaml:7:10: people.aiko: \"aiko\" is defined with other numbers in x.yaml:2:3 (+818012345678 there, +818099998888 here): " +
				"define each person once, in a people file, or give every definition the same numbers"},
		{"two policies, one name, other numbers", docs(
			"name: p\npeople: {a: {phone: '+81 80-1234-5678'}}\nsteps: [{notify: [a], via: [{yemot: {ivr_path: 'ivr2:/1'}}], wait: 1m}]\n",
			"name: q\npeople: {a: {phones: ['+81 80-1234-5678', '+81 3-1234-5678']}}\nsteps: [{notify: [a], via: [{yemot: {ivr_path: 'ivr2:/1'}}], wait: 1m}]\n"),
			"x.yaml:6:10: people.a: \"a\" is defined with other numbers in x.yaml:2:10 (+818012345678 there, +818012345678, +81312345678 here): " +
				"define each person once, in a people file, or give every definition the same numbers"},
		{"a person nowhere", docs(peopleDoc, usePolicy("[aiko, carol]", "broadcast")),
			"x.yaml:7:25: steps[0].notify[1]: undefined person \"carol\" (define it under people, or in a people file)"},

		{"a shared roster", docs(peopleDoc, rosterDoc, usePolicy("{oncall: db}", "single")), ""},
		{"a roster of layers", docs(peopleDoc, layerDoc, usePolicy("{oncall: db}", "broadcast")), ""},
		{"a roster of layers, single", docs(peopleDoc, layerDoc, usePolicy("{oncall: db}", "single")),
			"x.yaml:11:18: steps[0].notify: strategy single calls one person, but the roster may have 2 on call at once: use broadcast or rotation"},
		{"a shared roster, whole", docs(peopleDoc, rosterDoc, usePolicy("{roster: db}", "rotation")), ""},
		{"an unknown roster", docs(peopleDoc, rosterDoc, usePolicy("{oncall: dba}", "single")),
			"x.yaml:12:27: steps[0].notify.oncall: unknown roster \"dba\" (the rosters are db)"},
		{"no roster at all", docs(peopleDoc, usePolicy("{roster: db}", "rotation")),
			"x.yaml:7:27: steps[0].notify.roster: unknown roster \"db\" (no roster is defined: a file whose top-level key is roster: <name> defines one)"},
		{"notify two rosters at once", docs(peopleDoc, rosterDoc, usePolicy("{oncall: db, roster: db}", "single")),
			"x.yaml:12:18: steps[0].notify: must name one shared roster: {oncall: <roster>} (who is on call in it) or {roster: <roster>} (the whole roster)"},
		{"notify something else", usePolicy("{people: [a]}", "single"),
			"x.yaml:2:19: steps[0].notify.people: unknown key (known keys: oncall, roster)"},
		{"a policy roster that is a name", docs(peopleDoc, rosterDoc,
			"name: p\nroster: db\nsteps: [{notify: oncall, via: [{yemot: {ivr_path: 'ivr2:/1'}}], wait: 1m}]\n"),
			"x.yaml:12:9: roster: must be a mapping (the policy's own roster): to use the shared roster \"db\", name it in a step: notify: {oncall: db} or {roster: db}\n" +
				"x.yaml:13:18: steps[0].notify: oncall needs a roster: define one under roster, or name a shared one: {oncall: <roster>}"},
		{"a shared roster naming a policy's own person", docs(
			"roster: db\npeople: [aiko]\n",
			"name: p\npeople: {aiko: {phone: '+81 80-1234-5678'}}\nsteps: [{notify: {oncall: db}, via: [{yemot: {ivr_path: 'ivr2:/1'}}], wait: 1m}]\n"),
			"x.yaml:2:10: people[0]: undefined person \"aiko\": a shared roster names people of the people files only (\"aiko\" is policy p's own, x.yaml:5:10): move it to a people file"},
		{"a shared roster naming nobody known", docs(peopleDoc, "roster: db\npeople: [aiko, carol]\nhandoff: daily\nstart: 2026-01-05T09:00:00Z\n"),
			"x.yaml:7:16: people[1]: undefined person \"carol\" (define it in a people file)"},
		{"a roster with nobody", docs(peopleDoc, "roster: db\npeople: []\n"),
			"x.yaml:6:9: roster: has nobody: name people (the rotation, in order), layers, or an override with a person"},
		{"a policy's roster with nobody", "name: p\nroster: {handoff: daily}\nsteps: [{notify: [], via: [{yemot: {ivr_path: 'ivr2:/1'}}], wait: 1m}]\n",
			"x.yaml:2:9: roster: has nobody: name people (the rotation, in order), layers, or an override with a person\n" +
				"x.yaml:3:18: steps[0].notify: must name at least one person"},
		{"a policy's own roster with layers and on_call, its own people and shared ones", docs(peopleDoc,
			"name: p\npeople: {sora: {phone: '+81 80-5555-6666'}}\n"+
				"roster: {people: [sora, aiko], on_call: 2, layers: [{name: night, people: [kenji, yuki, sora], handoff: daily, start: 2026-01-05T00:00:00Z, restrict: {from: '22:00', to: '06:00'}}]}\n"+
				"steps: [{notify: oncall, strategy: broadcast, via: [{yemot: {ivr_path: 'ivr2:/1'}}], wait: 1m}]\n"), ""},
		{"a policy's own roster layer naming nobody known", docs(peopleDoc,
			"name: p\nroster: {layers: [{people: [kenji, carol], handoff: daily, start: 2026-01-05T00:00:00Z}]}\n"+
				"steps: [{notify: roster, strategy: rotation, via: [{yemot: {ivr_path: 'ivr2:/1'}}], wait: 1m}]\n"),
			"x.yaml:7:36: roster.layers[0].people[1]: undefined person \"carol\" (define it under people, or in a people file)"},
		{"a roster of overrides only", docs(peopleDoc, "roster: db\noverrides: [{person: aiko, start: 2026-01-01T00:00:00Z, end: 2026-01-02T00:00:00Z}]\n"), ""},
		{"a roster named twice", docs(peopleDoc, rosterDoc, rosterDoc),
			"x.yaml:11:9: roster: duplicate roster name \"db\" (also in x.yaml:6:9)"},
		{"a roster with a bad name", docs(peopleDoc, "roster: db primary\npeople: [aiko]\n"),
			"x.yaml:6:9: roster: must be letters, digits, '-', '_' or '.', at most 64, got \"db primary\""},
		{"a layer with nobody", docs(peopleDoc, "roster: db\nlayers: [{name: day, people: []}]\n"),
			"x.yaml:7:30: layers[0].people: must name at least one person: a layer with nobody covers nobody (leave the layer out)"},
		{"a layer without people", docs(peopleDoc, "roster: db\npeople: [aiko]\nlayers: [{name: day}]\n"),
			"x.yaml:8:10: layers[0].people: is required: the layer's people, in order"},
		{"no layers", docs(peopleDoc, "roster: db\npeople: [aiko]\nlayers: []\n"),
			"x.yaml:8:9: layers: must have at least one layer (leave layers out for a roster of one rotation)"},
		{"two layers of one name", docs(peopleDoc, "roster: db\nlayers: [{name: day, people: [aiko]}, {name: day, people: [kenji]}]\n"),
			"x.yaml:7:46: layers[1].name: layer \"day\" is also layers[0]: give each layer its own name"},
		{"a layer's unknown key", docs(peopleDoc, "roster: db\nlayers: [{name: day, people: [aiko], overrides: []}]\n"),
			"x.yaml:7:38: layers[0].overrides: unknown key (known keys: name, people, handoff, start, time_zone, on_call, restrict)"},
		{"a layer's restrict", docs(peopleDoc, "roster: db\nlayers: [{people: [aiko], restrict: [{days: [mon], from: '09:00', to: '18:00'}, {from: '9'}]}]\n"),
			"x.yaml:7:88: layers[0].restrict[1].from: must be a time of day HH:MM such as 09:00, got \"9\"\n" +
				"x.yaml:7:81: layers[0].restrict[1].to: is required: when the window closes, e.g. 18:00 (at or before from: the next day)"},
		{"a layer restricted to nothing", docs(peopleDoc, "roster: db\nlayers: [{people: [aiko], restrict: []}]\n"),
			"x.yaml:7:37: layers[0].restrict: must have at least one window (leave restrict out for a layer on call at all times)"},
		{"on_call more than the people", docs(peopleDoc, "roster: db\npeople: [aiko, kenji]\non_call: 3\n"),
			"x.yaml:8:10: on_call: is 3, but the rotation has 2 people: on_call is how many of its people are on call at once"},
		{"on_call 0", docs(peopleDoc, "roster: db\npeople: [aiko]\non_call: 0\n"), "x.yaml:8:10: on_call: must be 1 or more, got 0"},
		{"everyone on call needs no hand-off", docs(peopleDoc, "roster: db\npeople: [aiko, kenji]\non_call: 2\n"), ""},
		{"a rotation needs a hand-off", docs(peopleDoc, "roster: db\npeople: [aiko, kenji]\n"),
			"x.yaml:6:1: handoff: is required: daily, weekly or a Go duration\nx.yaml:6:1: start: is required: when the first person's first shift begins"},
		{"an override of several", docs(peopleDoc, "roster: db\npeople: [aiko]\noverrides: [{people: [kenji, yuki], start: 2026-01-01T00:00:00Z, end: 2026-01-02T00:00:00Z}]\n"), ""},
		{"an override of person and people", docs(peopleDoc, "roster: db\npeople: [aiko]\noverrides: [{person: kenji, people: [yuki], start: 2026-01-01T00:00:00Z, end: 2026-01-02T00:00:00Z}]\n"),
			"x.yaml:8:37: overrides[0].people: person and people are two ways to say who covers: keep one"},
		{"an override of no people", docs(peopleDoc, "roster: db\npeople: [aiko]\noverrides: [{people: [], start: 2026-01-01T00:00:00Z, end: 2026-01-02T00:00:00Z}]\n"),
			"x.yaml:8:22: overrides[0].people: must name at least one person (for a holiday, leave person and people out)"},

		{"round_robin over a list", docs(peopleDoc, usePolicy("[aiko, kenji, yuki]", "round_robin")), ""},
		{"round_robin over a shared roster", docs(peopleDoc, layerDoc, usePolicy("{roster: db}", "round_robin")), ""},
		{"round_robin over oncall", docs(peopleDoc, rosterDoc, usePolicy("{oncall: db}", "round_robin")),
			"x.yaml:12:42: steps[0].strategy: round_robin calls one person per escalation, in turn, from a list or a roster; " +
				"oncall is already one choice: notify a roster ({roster: <roster>} or roster) to go round it, or use strategy single"},
		{"round_robin with stop_on_answer", docs(peopleDoc,
			"name: p\nsteps: [{notify: [aiko, kenji], strategy: round_robin, stop_on_answer: true, via: [{yemot: {ivr_path: 'ivr2:/1'}}], wait: 1m}]\n"),
			"x.yaml:7:72: steps[0].stop_on_answer: applies only to strategy broadcast, not round_robin"},
		{"an unknown strategy", usePolicy("[a]", "everyone"),
			"x.yaml:2:33: steps[0].strategy: must be single, broadcast, rotation or round_robin, got \"everyone\"\n" +
				"x.yaml:2:19: steps[0].notify[0]: undefined person \"a\" (define it under people, or in a people file)"},
		{"nothing but people and a roster", docs(peopleDoc, rosterDoc), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFileWith(testOptions, "x.yaml", []byte(tt.yaml))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != sortedLines(tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", got, sortedLines(tt.want))
			}
		})
	}
}

// sortedLines orders expected problems as Problems.Err does.
func sortedLines(s string) string {
	if s == "" {
		return ""
	}
	var ps Problems
	for _, line := range strings.Split(s, "\n") {
		ps = append(ps, parseProblem(line))
	}
	return ps.Err().Error()
}

// parseProblem reads back "file:line:col: path: msg" for sorting.
func parseProblem(s string) Problem {
	var p Problem
	parts := strings.SplitN(s, ": ", 2)
	loc := strings.Split(parts[0], ":")
	p.File = loc[0]
	if len(loc) > 1 {
		p.Line = atoi(loc[1])
	}
	if len(loc) > 2 {
		p.Column = atoi(loc[2])
	}
	if len(parts) > 1 {
		p.Msg = parts[1]
	}
	return p
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestSharedAcrossFiles: people and rosters defined in their own files
// serve the policies of every file; a name given other numbers elsewhere is
// reported with both places; a roster's problem makes the whole set invalid.
func TestSharedAcrossFiles(t *testing.T) {
	set, err := LoadWith(testOptions, "testdata/shared")
	if err != nil {
		t.Fatal(err)
	}
	if len(set.People) != 1 || len(set.People[0].People) != 6 || set.People[0].File != "testdata/shared/people.yaml" {
		t.Errorf("people files: %+v", set.People)
	}
	if len(set.Rosters) != 1 || set.Rosters[0].Name != "db-primary" || set.Rosters[0].File != "testdata/shared/roster-db.yaml" {
		t.Errorf("rosters: %+v", set.Rosters)
	}
	db, _ := set.Get("db")
	if got := sortedKeys(db.People); !reflect.DeepEqual(got, []string{"aiko", "desk", "kenji", "noa", "ren", "yuki"}) {
		t.Errorf("db's people: %q (everyone its roster may put on call)", got)
	}
	if r := db.Rosters["db-primary"]; r == nil || r != set.Rosters[0] {
		t.Errorf("db's rosters: %+v", db.Rosters)
	}
	wantKenji := provider.Person{Name: "kenji", Phone: "+819011112222", Alternates: []string{"+81312345678"}}
	wantYuki := provider.Person{Name: "yuki", Phone: "+817012345678", ByProvider: map[string][]string{"yemot": {"+972522345678"}}}
	if !reflect.DeepEqual(db.People["kenji"], wantKenji) || !reflect.DeepEqual(db.People["yuki"], wantYuki) {
		t.Errorf("kenji %+v, yuki %+v", db.People["kenji"], db.People["yuki"])
	}
	web, _ := set.Get("web")
	if got := sortedKeys(web.People); !reflect.DeepEqual(got, []string{"aiko", "noa", "ren", "sora"}) {
		t.Errorf("web's people: %q (its own and those its steps name)", got)
	}
	if web.Rosters != nil {
		t.Errorf("web uses no shared roster: %+v", web.Rosters)
	}

	// The same directory with a file that gives yuki other numbers, and a
	// roster that names someone nobody defines.
	dir := t.TempDir()
	entries, _ := os.ReadDir("testdata/shared")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata/shared", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, y string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("more-people.yaml", "people:\n  yuki: {phone: '+81 70-1234-5678', by_provider: {yemot: '+972 52-345-6789'}}\n")
	write("roster-web.yaml", "roster: web\npeople: [sora, aiko]\nhandoff: daily\nstart: 2026-01-05T09:00:00Z\n")
	_, err = LoadWith(testOptions, dir)
	want := dir + "/people.yaml:5:3: people.yuki: \"yuki\" is defined with other numbers in " + dir + "/more-people.yaml:2:3 " +
		"(+817012345678; yemot +972523456789 there, +817012345678; yemot +972522345678 here): define each person once, in a people file, or give every definition the same numbers\n" +
		dir + "/roster-web.yaml:2:10: people[0]: undefined person \"sora\": a shared roster names people of the people files only " +
		"(\"sora\" is policy web's own, " + dir + "/web.yaml:6:3): move it to a people file"
	if err == nil || err.Error() != want {
		t.Errorf("LoadWith = %v\nwant:\n%s", err, want)
	}
}
