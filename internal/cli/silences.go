package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/escalator-oss/escalator/internal/policycmd"
	"github.com/escalator-oss/escalator/internal/silence"
)

// Matchers writes a silence's matchers as people type them:
// "team=db service=~db-.*".
func Matchers(s silence.Silence) string {
	var out []string
	for _, k := range sortedKeys(s.Matchers) {
		out = append(out, k+"="+s.Matchers[k])
	}
	for _, k := range sortedKeys(s.MatchersRegex) {
		out = append(out, k+"=~"+s.MatchersRegex[k])
	}
	return strings.Join(out, " ")
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Silences writes silences as a table, in the order given.
func (p Printer) Silences(list []silence.View, what string) {
	if len(list) == 0 {
		fmt.Fprintf(p.Out, "No %s.\n", what)
		return
	}
	t := &table{p: p}
	t.header("ID", "STATUS", "MATCHERS", "STARTS", "ENDS", "BY", "COMMENT")
	now := p.now()
	for _, v := range list {
		t.add(plain(v.ID), cell{v.Status, silenceColor(v.Status)}, plain(Matchers(v.Silence)), plain(Relative(v.StartsAt, now)),
			plain(Relative(v.EndsAt, now)), plain(v.By), plain(oneLine(v.Comment)))
	}
	t.flush("")
}

func silenceColor(status string) string {
	switch status {
	case silence.Active:
		return cyan
	case silence.Pending:
		return blue
	}
	return dim
}

// SilenceMade writes a new silence: its id, what it covers and when.
func (p Printer) SilenceMade(a *SilenceAnswer) {
	fmt.Fprintf(p.Out, "Silence %s made by %s: %s\n", p.paint(a.ID, bold), a.By, Matchers(a.Silence))
	t := &table{p: p}
	t.add(plain("status"), cell{a.Status, silenceColor(a.Status)})
	t.add(plain("starts"), plain(p.when(a.StartsAt)))
	t.add(plain("ends"), plain(p.when(a.EndsAt)))
	if a.Comment != "" {
		t.add(plain("comment"), plain(oneLine(a.Comment)))
	}
	t.add(plain("quietened"), plain(plural(a.Escalations, "running escalation")))
	t.flush("  ")
}

// SilenceExpired writes a silence just expired.
func (p Printer) SilenceExpired(a *SilenceAnswer) {
	fmt.Fprintf(p.Out, "Silence %s (%s) expired; %s woken: each escalates from step 1 if its alert still fires.\n",
		p.paint(a.ID, bold), Matchers(a.Silence), plural(a.Escalations, "escalation"))
}

// OnCall writes who is on call as `escalator oncall` does from the files.
func (p Printer) OnCall(a *OnCallAnswer) {
	policycmd.WriteOnCall(p.Out, policycmd.OnCallReport{At: a.At, Rosters: a.Rosters})
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	return s
}
