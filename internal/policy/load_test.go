package policy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/provider"
)

func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := LoadWith(testOptions, "testdata/bad")
	if err == nil {
		t.Fatal("LoadWith(testOptions, testdata/bad) succeeded; want problems")
	}
	want := strings.Join([]string{
		"testdata/bad/beats.yaml:6:12: heartbeat: duplicate heartbeat name \"nightly-backup\" (also in testdata/bad/beats.yaml:2:12)",
		"testdata/bad/beats.yaml:7:8: every: must be at least 1s, got 500ms",
		"testdata/bad/beats.yaml:8:20: labels.heartbeat: is set to the monitor's name by escalator: leave it out",
		"testdata/bad/beats.yaml:8:34: labels.bad-label: \"bad-label\" is not a label name",
		"testdata/bad/beats.yaml:8:51: labels.n: must be a string, got int 5",
		"testdata/bad/beats.yaml:9:10: summary: must be a string, got a list",
		"testdata/bad/beats.yaml:10:1: colour: unknown key (known keys: heartbeat, every, labels, summary)",
		"testdata/bad/beats.yaml:12:1: every: is required: the longest time allowed between two pings, e.g. 25h",
		"testdata/bad/beats.yaml:12:12: heartbeat: must be letters, digits, '-', '_' or '.', at most 64, got \"bad name!\"",
		"testdata/bad/beats.yaml:14:12: heartbeat: must not be empty",
		"testdata/bad/beats.yaml:15:8: every: must be a Go duration such as 30s or 5m, got \"soon\"",
		"testdata/bad/db.yaml:2:11: priority: must be an integer, got \"high\"",
		"testdata/bad/db.yaml:3:1: colour: unknown key (known keys: name, description, priority, match, group_by, acknowledge_on_answer, people, roster, steps, repeat, ack_timeout, active_time, maintenance)",
		"testdata/bad/db.yaml:6:14: match.labels_regex.service: regular expression does not compile: error parsing regexp: missing closing ): `^(?:db-()$`",
		"testdata/bad/db.yaml:7:13: match.severity: must be a list, got \"critical\"",
		"testdata/bad/db.yaml:10:16: people.bob.phone: phone number \"0312345678\" must be in international form, starting with + and the country code",
		"testdata/bad/db.yaml:13:21: steps[0].notify[1]: undefined person \"carol\" (define it under people, or in a people file)",
		"testdata/bad/db.yaml:20:14: steps[1].pass_on: applies only to strategy rotation, not broadcast",
		"testdata/bad/db.yaml:22:9: steps[1].via[0].iotcall: dana's number +972522345678 cannot be called through IoTCall: IoTCall has no country id configured for +972 (set IOTCALL_COUNTRY_IDS, e.g. \"81=1\")",
		"testdata/bad/db.yaml:23:16: steps[1].via[1].yemot.ivr_path: is required: the extension (שלוחה) answered calls are put into, e.g. ivr2:/1/100",
		"testdata/bad/db.yaml:23:23: steps[1].via[1].yemot.ring: Yemot rings at most 35s, got 40s",
		"testdata/bad/db.yaml:24:9: steps[1].via[2].ccai: needs at least one agent or a menu_id",
		"testdata/bad/db.yaml:24:22: steps[1].via[2].ccai.lang: must be an ISO 639-1 code such as en or ja, got \"english\"",
		"testdata/bad/db.yaml:25:11: steps[1].wait: must be positive",
		"testdata/bad/db.yaml:26:13: steps[2].notify: oncall needs a roster: define one under roster, or name a shared one: {oncall: <roster>}",
		"testdata/bad/db.yaml:27:10: steps[2].via: must name at least one provider",
		"testdata/bad/db.yaml:28:11: steps[2].wait: must be a Go duration such as 30s or 5m, got \"soon\"",
		"testdata/bad/db.yaml:29:9: repeat: must be 0 or more, got -1",
		"testdata/bad/dup.yaml:1:7: name: duplicate policy name \"db\" (also in testdata/bad/db.yaml:1:7)",
		"testdata/bad/dup.yaml:3:14: steps[0].notify[0]: undefined person \"x\" (define it under people, or in a people file)",
		"testdata/bad/times.yaml:2:14: ack_timeout: must be at least 1m, got 30s (leave it out never to re-page)",
		"testdata/bad/times.yaml:4:17: active_time[0].days[1]: unknown day \"funday\": use sun, mon, tue, wed, thu, fri or sat",
		"testdata/bad/times.yaml:4:25: active_time[0].days[2]: mon is listed twice",
		"testdata/bad/times.yaml:5:11: active_time[0].from: must be a time of day HH:MM such as 09:00, got \"9am\"",
		"testdata/bad/times.yaml:6:9: active_time[0].to: must be a time of day HH:MM such as 18:00, or 24:00, got \"25:00\"",
		"testdata/bad/times.yaml:7:16: active_time[0].time_zone: unknown time zone \"Mars/Base\": use an IANA name such as Asia/Tokyo",
		"testdata/bad/times.yaml:9:9: active_time[1].to: must differ from from: for the whole day, write from: \"00:00\" and to: \"24:00\"",
		"testdata/bad/times.yaml:10:5: active_time[2].from: is required: when the window opens each day, e.g. 09:00",
		"testdata/bad/times.yaml:10:11: active_time[2].days: must name at least one day (leave days out for every day)",
		"testdata/bad/times.yaml:12:5: active_time[2].colour: unknown key (known keys: days, from, to, time_zone)",
		"testdata/bad/times.yaml:15:10: maintenance[0].end: must be after start",
		"testdata/bad/times.yaml:16:5: maintenance[1].end: is required: when the window ends, RFC 3339",
		"testdata/bad/times.yaml:17:5: maintenance[2]: is either one-off (start, end) or weekly (days, from, to, time_zone), not both: write two windows",
		"testdata/bad/times.yaml:21:5: maintenance[3]: must be a one-off window {start, end} or a weekly one {days, from, to, time_zone}",
		"testdata/bad/times.yaml:22:11: maintenance[4].days: must be a list, got \"sun\"",
		"testdata/bad/times.yaml:23:11: maintenance[4].from: must be a time of day HH:MM such as 09:00, got int 1",
	}, "\n")
	if got := err.Error(); got != want {
		t.Errorf("problems:\n%s\n\nwant:\n%s", got, want)
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"syntax", "name: [a\n", "x.yaml:1: invalid YAML: did not find expected ',' or ']'"},
		{"empty", "", "x.yaml: no policy, heartbeat, people or roster in file"},
		{"only a heartbeat", "heartbeat: backup\nevery: 25h\n", ""},
		{"not a mapping", "- a\n", "x.yaml:1:1: must be a mapping, got a list"},
		{"missing name and steps", "description: d\n", "x.yaml:1:1: name: is required\nx.yaml:1:1: steps: is required: a policy needs at least one step"},
		{"duplicate key", "name: a\nname: b\nsteps: []\n", "x.yaml:2:1: name: duplicate key (first at line 1)\nx.yaml:3:8: steps: must have at least one step"},
		{"short wait", "name: a\npeople: {p: {phone: '+81 80-1234-5678'}}\nsteps: [{notify: [p], via: [{iotcall: {rule: r}}], wait: 10ms}]\n",
			"x.yaml:3:58: steps[0].wait: must be at least 1s, got 10ms"},
		{"iotcall rotation of one", "name: a\npeople: {p: {phone: '+81 80-1234-5678'}}\nsteps: [{notify: [p], strategy: rotation, via: [{iotcall: {rule: r}}], wait: 1m}]\n",
			"x.yaml:3:50: steps[0].via[0].iotcall: an IoTCall rotation rule needs two or more numbers, but this step calls 1"},
		{"two providers in one via", "name: a\npeople: {p: {phone: '+81 80-1234-5678'}}\nsteps: [{notify: [p], via: [{iotcall: {rule: r}, ccai: {menu_id: 1}}], wait: 1m}]\n",
			"x.yaml:3:29: steps[0].via[0]: must name exactly one provider (iotcall, yemot or ccai), got 2"},
		{"bad time zone", "name: a\npeople: {p: {phone: '+81 80-1234-5678'}}\nroster: {people: [p], handoff: fortnightly, start: 2026-01-01T00:00:00Z, time_zone: Mars/Base}\nsteps: [{notify: oncall, via: [{iotcall: {rule: r}}], wait: 1m}]\n",
			"x.yaml:3:32: roster.handoff: must be daily, weekly or a Go duration such as 12h, got \"fortnightly\"\nx.yaml:3:85: roster.time_zone: unknown time zone \"Mars/Base\": use an IANA name such as Asia/Tokyo"},
		{"lists checked item by item", "name: a\ngroup_by: [1, ok, bad-label]\npeople: {p: {phone: '+81 80-1234-5678'}}\nsteps: [{notify: [p], via: [{ccai: {agents: [3, nobody]}}], wait: 1m}]\n",
			"x.yaml:2:12: group_by[0]: must be a string, got int 1\nx.yaml:2:19: group_by[2]: \"bad-label\" is not a label name\n" +
				"x.yaml:4:46: steps[0].via[0].ccai.agents[0]: must be a string, got int 3\nx.yaml:4:49: steps[0].via[0].ccai.agents[1]: must be an agent's e-mail address, got \"nobody\""},
		{"duplicate regex label reported once", "name: a\nmatch: {labels_regex: {s: x, s: y}}\npeople: {p: {phone: '+81 80-1234-5678'}}\nsteps: [{notify: [p], via: [{iotcall: {rule: r}}], wait: 1m}]\n",
			"x.yaml:2:30: match.labels_regex.s: duplicate key (first at line 2)"},
		{"single rule, roster of two", "name: a\npeople: {p: {phone: '+81 80-1234-5678'}, q: {phone: '+81 90-1111-2222'}}\nroster: {people: [p, q], handoff: daily, start: 2026-01-01T00:00:00Z}\nsteps: [{notify: roster, via: [{iotcall: {rule: r}}], wait: 1m}]\n",
			"x.yaml:4:18: steps[0].notify: strategy single calls one person, but the roster has 2: notify oncall instead\nx.yaml:4:33: steps[0].via[0].iotcall: an IoTCall single rule calls exactly one number, but this step calls 2"},
		{"ack_timeout not a duration", policyWith("ack_timeout: 2 hours"), "x.yaml:1:14: ack_timeout: must be a Go duration such as 30s or 5m, got \"2 hours\""},
		{"ack_timeout negative", policyWith("ack_timeout: -2h"), "x.yaml:1:14: ack_timeout: must be at least 1m, got -2h (leave it out never to re-page)"},
		{"ack_timeout of a minute", policyWith("ack_timeout: 1m"), ""},
		{"active_time one window", policyWith("active_time: {days: [Saturday, SUN], from: \"00:00\", to: \"24:00\", time_zone: Asia/Tokyo}"), ""},
		{"active_time past midnight, every day", policyWith("active_time: {from: \"22:00\", to: \"06:00\"}"), ""},
		{"active_time not a window", policyWith("active_time: weekdays"),
			"x.yaml:1:14: active_time: must be a mapping {days, from, to, time_zone} or a list of them, got \"weekdays\""},
		{"active_time empty", policyWith("active_time: []"),
			"x.yaml:1:14: active_time: must have at least one window (leave active_time out for a policy active at all times)"},
		{"active_time without to", policyWith("active_time: {from: \"09:00\"}"),
			"x.yaml:1:14: active_time.to: is required: when the window closes, e.g. 18:00 (at or before from: the next day)"},
		{"active_time from 24:00", policyWith("active_time: {from: \"24:00\", to: \"09:60\"}"),
			"x.yaml:1:21: active_time.from: must be a time of day HH:MM such as 09:00, got \"24:00\"\n" +
				"x.yaml:1:34: active_time.to: must be a time of day HH:MM such as 18:00, or 24:00, got \"09:60\""},
		{"active_time in Local", policyWith("active_time: {from: \"9:00\", to: \"18:00\", time_zone: Local}"),
			"x.yaml:1:21: active_time.from: must be a time of day HH:MM such as 09:00, got \"9:00\"\n" +
				"x.yaml:1:53: active_time.time_zone: unknown time zone \"Local\": use an IANA name such as Asia/Tokyo"},
		{"active_time list item not a mapping", policyWith("active_time: [mon]"), "x.yaml:1:15: active_time[0]: must be a mapping, got \"mon\""},
		{"maintenance not a list", policyWith("maintenance: {start: 2026-01-01T00:00:00Z, end: 2026-01-02T00:00:00Z}"),
			"x.yaml:1:14: maintenance: must be a list, got a mapping"},
		{"maintenance empty", policyWith("maintenance: []"), "x.yaml:1:14: maintenance: must have at least one window (leave maintenance out for none)"},
		{"maintenance without start", policyWith("maintenance: [{end: 2026-01-02T00:00:00Z}]"),
			"x.yaml:1:15: maintenance[0].start: is required: when the window begins, RFC 3339"},
		{"maintenance start not a time", policyWith("maintenance: [{start: tomorrow, end: 2026-01-02T00:00:00Z}]"),
			"x.yaml:1:23: maintenance[0].start: must be an RFC 3339 time such as 2026-01-05T09:00:00+09:00, got \"tomorrow\""},
		{"maintenance unknown key", policyWith("maintenance: [{start: 2026-01-01T00:00:00Z, end: 2026-01-02T00:00:00Z, reason: move}]"),
			"x.yaml:1:72: maintenance[0].reason: unknown key (known keys: start, end, days, from, to, time_zone)"},
		{"maintenance weekly without from", policyWith("maintenance: [{days: [sun], to: \"03:00\"}]"),
			"x.yaml:1:15: maintenance[0].from: is required: when the window opens each day, e.g. 09:00"},
		{"maintenance one-off and weekly", policyWith("maintenance: [{start: 2026-01-01T00:00:00Z, end: 2026-01-02T00:00:00Z}, {days: [sun], from: \"01:00\", to: \"03:00\", time_zone: Asia/Tokyo}]"), ""},
		{"a heartbeat and a policy in one file", "heartbeat: backup\nevery: 25h\n---\n" + policyWith(""), ""},
		{"heartbeat name not a string", "heartbeat: [a]\nevery: 1h\n", "x.yaml:1:12: heartbeat: must be a string, got a list"},
		{"heartbeat name no subject", "heartbeat: etl..hourly\nevery: 1h\n",
			"x.yaml:1:12: heartbeat: \"etl..hourly\" cannot be pinged: pings are published to heartbeats.<name>, so no '..' and no '.' at the end"},
		{"heartbeat name with dots", "heartbeat: etl.hourly\nevery: 1h\n", ""},
		{"heartbeat with steps", "heartbeat: backup\nevery: 1h\nsteps: []\n",
			"x.yaml:3:1: steps: unknown key (known keys: heartbeat, every, labels, summary)"},
		{"yemot 501 numbers", yemot501(), "x.yaml:504:2944: steps[0].via[0].yemot: a Yemot campaign calls at most 500 numbers, but this step calls 501"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseWith(testOptions, "x.yaml", []byte(tt.yaml))
			if err != nil && tt.want == "" {
				t.Logf("%s", err)
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Parse:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestLoadHeartbeatsOnly(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"b.yaml": "heartbeat: zz-last\nevery: 1h\n---\nheartbeat: backup\nevery: 25h\nlabels: {team: db}\nsummary: no backup\n",
		"a.yml":  "heartbeat: etl.hourly\nevery: 90m\n",
	}
	for name, y := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := LoadWith(testOptions, dir)
	if err != nil {
		t.Fatalf("a directory of heartbeat monitors only: %v", err)
	}
	want := []*Heartbeat{
		{Name: "backup", Every: 25 * time.Hour, Labels: map[string]string{"team": "db"}, Summary: "no backup", File: filepath.Join(dir, "b.yaml")},
		{Name: "etl.hourly", Every: 90 * time.Minute, Labels: nil, File: filepath.Join(dir, "a.yml")},
		{Name: "zz-last", Every: time.Hour, File: filepath.Join(dir, "b.yaml")},
	}
	if len(set.Policies) != 0 || len(set.Heartbeats) != len(want) {
		t.Fatalf("loaded %d policies, %d heartbeats; want 0, %d", len(set.Policies), len(set.Heartbeats), len(want))
	}
	for i, h := range set.Heartbeats {
		h.pos = Problem{}
		if !reflect.DeepEqual(h, want[i]) {
			t.Errorf("heartbeat %d = %+v, want %+v", i, h, want[i])
		}
	}
}

func TestShippedPoliciesLoad(t *testing.T) {
	set, err := LoadWith(testOptions, filepath.Join("..", "..", "policies"))
	if err != nil {
		t.Fatalf("LoadWith(testOptions, policies/): %v", err)
	}
	if len(set.Policies) < 4 {
		t.Errorf("loaded %d policies, want at least 4", len(set.Policies))
	}
}

func TestPolicyJSONRoundTrip(t *testing.T) {
	set, err := LoadWith(testOptions, "testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	p := set.Policies[0]
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q Policy
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(&q)
	if string(b) != string(b2) {
		t.Errorf("round trip changed the policy:\n%s\n%s", b, b2)
	}
	ev := event(map[string]string{"team": "db", "service": "db-main"}, "critical")
	if !q.Match.Matches(ev) {
		t.Errorf("decoded policy does not match %v; regexes lost?", ev.Labels)
	}
	before, err1 := provider.As[yemot.Settings](p.Steps[1].Via[1])
	after, err2 := provider.As[yemot.Settings](q.Steps[1].Via[1])
	if err1 != nil || err2 != nil || before.Ring == 0 || !reflect.DeepEqual(before, after) {
		t.Errorf("yemot settings changed: %+v vs %+v (%v, %v)", before, after, err1, err2)
	}
	if q.Roster.TimeZone != "America/New_York" {
		t.Errorf("time zone = %q", q.Roster.TimeZone)
	}
}

func TestStrict(t *testing.T) {
	set, err := LoadWith(testOptions, "testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	got := set.Strict(map[string]bool{"iotcall": true}).Error()
	want := "testdata/good/team.yaml:29:36: steps[1].via[1].yemot: provider yemot is not configured on this worker\n" +
		"testdata/good/team.yaml:33:12: steps[2].via[0].ccai: provider ccai is not configured on this worker"
	if got != want {
		t.Errorf("Strict:\n%s\nwant:\n%s", got, want)
	}
	if ps := set.Strict(map[string]bool{"iotcall": true, "yemot": true, "ccai": true}); len(ps) != 0 {
		t.Errorf("Strict with all configured: %v", ps)
	}
}

// policyWith is a valid one-line policy with extra before it: an extra on
// line 1 is at the columns a test reads.
func policyWith(extra string) string {
	return extra + "\nname: a\npeople: {p: {phone: '+81 80-1234-5678'}}\nsteps: [{notify: [p], via: [{iotcall: {rule: r}}], wait: 1m}]\n"
}

func yemot501() string {
	var b strings.Builder
	b.WriteString("name: big\npeople:\n")
	var names []string
	for i := range 501 {
		fmt.Fprintf(&b, "  p%d: {phone: \"+81 80-1000-%04d\"}\n", i, i)
		names = append(names, fmt.Sprintf("p%d", i))
	}
	fmt.Fprintf(&b, "steps: [{notify: [%s], strategy: broadcast, via: [{yemot: {ivr_path: \"ivr2:/1\"}}], wait: 1m}]\n", strings.Join(names, ", "))
	return b.String()
}
