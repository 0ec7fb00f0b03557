package ccai

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/phone"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/yamlx"
)

// Name is CCAI Platform's name in policies, metrics and outcome events.
const Name = "ccai"

// Settings are a step's CCAI Platform settings.
type Settings struct {
	// Agents (e-mail addresses) are tried in order; the next is tried when
	// one is unavailable.
	Agents []string `json:"agents,omitempty"`
	// MenuID, when set, queues an inbound call into that menu when no agent
	// listed is available.
	MenuID         int    `json:"menu_id,omitempty"`
	OutboundNumber string `json:"outbound_number,omitempty"`
	Lang           string `json:"lang,omitempty"`
}

// Provider implements provider.Settings.
func (Settings) Provider() string { return Name }

var langPattern = regexp.MustCompile(`^[a-z]{2}$`)

// Kind is CCAI Platform as the policy files see it.
type Kind struct{}

// Name implements provider.Kind.
func (Kind) Name() string { return Name }

// Decode implements provider.Kind: `ccai: {agents, menu_id,
// outbound_number, lang}`, with at least one agent or a menu.
func (Kind) Decode(d *yamlx.Decoder, n, at *yaml.Node, path string, _ provider.Step) provider.Settings {
	f, _, ok := d.Fields(n, path, "agents", "menu_id", "outbound_number", "lang")
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
	if len(v.Agents) == 0 && f["menu_id"] == nil {
		d.Add(at, path, "needs at least one agent or a menu_id")
	}
	return v
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
	return strings.Join(parts, "; ")
}

// Dial implements provider.Dialer.
func (Kind) Dial(e164 string) (provider.Dialed, error) {
	n, err := phone.CCAI(e164)
	return provider.Dialed{Number: n}, err
}
