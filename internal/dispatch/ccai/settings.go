package ccai

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/phone"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/yamlx"
)

// Name is CCAI Platform's name in policies, metrics and outcome events.
const Name = "ccai"

// DefaultRing is how long one person's turn of a rotation lasts at most
// when the step does not say (ring): time for the agent to take the call
// and for the person's phone to ring out.
const DefaultRing = time.Minute

// MaxRing is the longest turn a step may give one person of a rotation.
const MaxRing = 5 * time.Minute

// Settings are a step's CCAI Platform settings.
type Settings struct {
	// Agents (e-mail addresses) are tried in order: an agent who is busy or
	// refuses the call passes it to the next. An agent takes one call at a
	// time, so in a broadcast each person needs an agent of their own.
	Agents []string `json:"agents,omitempty"`
	// MenuID, when set, queues an inbound call into that menu when no agent
	// listed takes the call.
	MenuID         int    `json:"menu_id,omitempty"`
	OutboundNumber string `json:"outbound_number,omitempty"`
	Lang           string `json:"lang,omitempty"`
	// Ring (rotation only) is how long one person's turn lasts at most: the
	// next person is called once the previous call has ended unanswered, or
	// at the latest Ring after it was placed; 0 means DefaultRing. CCAI
	// Platform has no ring time of its own to set.
	Ring time.Duration `json:"ring,omitempty"`
}

// ring returns the turn of one person of a rotation.
func (s Settings) ring() time.Duration {
	if s.Ring > 0 {
		return s.Ring
	}
	return DefaultRing
}

// Provider implements provider.Settings.
func (Settings) Provider() string { return Name }

var langPattern = regexp.MustCompile(`^[a-z]{2}$`)

// Kind is CCAI Platform as the policy files see it, with what the
// deployment says about it.
type Kind struct {
	// CheckAnswered is set when the worker reads the Manager API's call list
	// (CCAI_CHECK_ANSWERED=true): the only way to tell that a call has ended
	// and whether it was answered, which a rotation needs.
	CheckAnswered bool
}

// Name implements provider.Kind.
func (Kind) Name() string { return Name }

// Decode implements provider.Kind: `ccai: {agents, menu_id,
// outbound_number, lang, ring}`, with at least one agent or a menu, checked
// against what CCAI Platform can do for the step's strategy:
//   - an agent takes one call at a time, so a broadcast needs an agent per
//     person, or a menu to queue the others into;
//   - a rotation needs answered detection (Kind.CheckAnswered) to know when
//     a call has ended and to stop when someone answers;
//   - the API documents no way to end a call or to pass one on, so
//     stop_on_answer and pass_on cannot be honoured;
//   - every number the platform would be asked to call (each person's
//     numbers for ccai, Person.Numbers) must be one it takes.
func (k Kind) Decode(d *yamlx.Decoder, n, at *yaml.Node, path string, step provider.Step) provider.Settings {
	f, _, ok := d.Fields(n, path, "agents", "menu_id", "outbound_number", "lang", "ring")
	if !ok {
		return nil
	}
	v := Settings{}
	if x := f["agents"]; x != nil {
		v.Agents = d.StringsEach(x, yamlx.Join(path, "agents"), func(n *yaml.Node, path, a string) {
			if at := strings.Index(a, "@"); at <= 0 || at == len(a)-1 || strings.ContainsAny(a, " ,;") {
				d.Add(n, path, "must be an agent's e-mail address, got %q", a)
			}
		})
	}
	if x := f["menu_id"]; x != nil {
		if id, ok := d.Integer(x, yamlx.Join(path, "menu_id")); ok {
			if id <= 0 {
				d.Add(x, yamlx.Join(path, "menu_id"), "must be a positive menu id, got %d", id)
			}
			v.MenuID = id
		}
	}
	if x := f["outbound_number"]; x != nil {
		if s, ok := d.Str(x, yamlx.Join(path, "outbound_number")); ok {
			e164, err := phone.Parse(s)
			if err != nil {
				d.Add(x, yamlx.Join(path, "outbound_number"), "%v", err)
			}
			v.OutboundNumber = e164
		}
	}
	if x := f["lang"]; x != nil {
		if s, ok := d.Str(x, yamlx.Join(path, "lang")); ok {
			if !langPattern.MatchString(s) {
				d.Add(x, yamlx.Join(path, "lang"), "must be an ISO 639-1 code such as en or ja, got %q", s)
			}
			v.Lang = s
		}
	}
	if x := f["ring"]; x != nil {
		if r, ok := d.Duration(x, yamlx.Join(path, "ring")); ok {
			switch {
			case step.Strategy != provider.Rotation:
				d.Add(x, yamlx.Join(path, "ring"), "only a rotation uses ring (how long one person's turn lasts before the next is called); drop it")
			case r <= 0:
				d.Add(x, yamlx.Join(path, "ring"), "must be positive")
			case r%time.Second != 0:
				d.Add(x, yamlx.Join(path, "ring"), "must be whole seconds, got %s", r)
			case r > MaxRing:
				d.Add(x, yamlx.Join(path, "ring"), "one person's turn lasts at most %s, got %s", compact(MaxRing), compact(r))
			}
			v.Ring = r
		}
	}
	if len(v.Agents) == 0 && f["menu_id"] == nil {
		d.Add(at, path, "needs at least one agent or a menu_id")
	}
	k.checkStrategy(d, at, path, step, v)
	for _, p := range step.People {
		for _, n := range p.Numbers(Name) {
			if err := dialable(n); err != nil {
				d.Add(at, path, "%s's number %s cannot be called through CCAI Platform: %v", p.Name, n, err)
			}
		}
	}
	return v
}

// dialable tells whether CCAI Platform can be sent the number e164 as an
// end_user_number. Numbers are looked at once.
func dialable(e164 string) error {
	_, err := dialables.Get(e164)
	return err
}

var dialables = phone.NewMemo(phone.CCAI)

// checkStrategy refuses what CCAI Platform cannot do for the step, saying
// why and what to use instead. stop_on_answer on another strategy than
// broadcast, and pass_on on another than rotation, are the policy's own
// problems, reported there.
func (k Kind) checkStrategy(d *yamlx.Decoder, at *yaml.Node, path string, step provider.Step, v Settings) {
	if step.StopOnAnswer && step.Strategy == provider.Broadcast {
		d.Add(at, path, "ccai cannot stop the other calls when one is answered (CCAI Platform's API has no way to end a call); "+
			"use an iotcall rule of type 一斉(誰か受電したら終了), or drop stop_on_answer")
	}
	if step.PassOn && step.Strategy == provider.Rotation {
		d.Add(at, path, "ccai cannot let the person who answers pass the call on to the next (CCAI Platform's API has no such option); "+
			"use an iotcall rule of type 輪番(「9」で次へ), or drop pass_on")
	}
	agents := distinct(v.Agents)
	switch {
	case step.Strategy == provider.Rotation && step.AtOnce != 1 && !k.CheckAnswered:
		d.Add(at, path, "a ccai rotation must know when each call has ended and stop when someone answers, which needs answered detection: "+
			"set CCAI_CHECK_ANSWERED=true on the worker (it reads the Manager API's call list), "+
			"or use a ccai broadcast, or an iotcall rule of type 輪番")
	case step.Strategy == provider.Broadcast && v.MenuID == 0 && agents > 0 && step.AtOnce > agents:
		d.Add(at, path, "a ccai broadcast gives each person an agent of their own (an agent takes one call at a time), "+
			"but this step calls up to %d people with %s and no menu_id: the extra people would never be called; add agents or a menu_id",
			step.AtOnce, plural(agents, "agent"))
	}
}

// compact formats a duration without zero units: 90s → 1m30s, 1m0s → 1m.
func compact(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	return s
}

func distinct(ss []string) int {
	seen := map[string]bool{}
	for _, s := range ss {
		seen[strings.ToLower(s)] = true
	}
	return len(seen)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// String describes the settings in a few words, for `policy simulate`.
func (s Settings) String() string {
	var parts []string
	if len(s.Agents) > 0 {
		parts = append(parts, "agents "+strings.Join(s.Agents, ", "))
	}
	if s.MenuID != 0 {
		parts = append(parts, fmt.Sprintf("menu %d", s.MenuID))
	}
	if s.OutboundNumber != "" {
		parts = append(parts, "from "+s.OutboundNumber)
	}
	if s.Lang != "" {
		parts = append(parts, "lang "+s.Lang)
	}
	if s.Ring > 0 {
		parts = append(parts, "ring "+compact(s.Ring))
	}
	return strings.Join(parts, "; ")
}

// Dial implements provider.Dialer.
func (Kind) Dial(e164 string) (provider.Dialed, error) {
	n, err := phone.CCAI(e164)
	return provider.Dialed{Number: n}, err
}
