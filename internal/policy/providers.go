package policy

import (
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/escalator-oss/escalator/internal/phone"
	"github.com/escalator-oss/escalator/internal/provider"
)

var (
	ruleKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_.~-]+$`)
	langPattern    = regexp.MustCompile(`^[a-z]{2}$`)
)

func (d *decoder) iotcall(n, at *yaml.Node, path string, s Step, count int, all []string, people map[string]provider.Person) *IoTCallVia {
	f, _, ok := d.fields(n, path, "rule")
	if !ok {
		return nil
	}
	v := &IoTCallVia{}
	if r := f["rule"]; r == nil {
		d.add(n, join(path, "rule"), "is required: the rule's URL key")
	} else if key, ok := d.nonEmpty(r, join(path, "rule")); ok {
		if !ruleKeyPattern.MatchString(key) {
			d.add(r, join(path, "rule"), "must be the URL key alone (the last part of .../ar/<key>), got %q", key)
		}
		v.Rule = key
	}
	switch {
	case s.Strategy == provider.Single && count > 1:
		d.add(at, path, "an IoTCall single rule calls exactly one number, but this step calls %d", count)
	case s.Strategy != provider.Single && count > 0 && count < 2:
		d.add(at, path, "an IoTCall %s rule needs two or more numbers, but this step calls %d", s.Strategy, count)
	}
	d.iotcallNumbers(at, path, all, people)
	return v
}

func (d *decoder) iotcallNumbers(n *yaml.Node, path string, all []string, people map[string]provider.Person) {
	for _, name := range all {
		pp, ok := people[name]
		if !ok {
			continue
		}
		if _, _, err := phone.IoTCall(pp.Phone, d.iotcallIDs); err != nil {
			d.add(n, path, "%s's number %s cannot be called through IoTCall: %v", name, pp.Phone, err)
		}
	}
}

func (d *decoder) yemot(n, at *yaml.Node, path string, count int) *YemotVia {
	f, _, ok := d.fields(n, path, "ivr_path", "caller_id", "ring", "tzintuk")
	if !ok {
		return nil
	}
	v := &YemotVia{}
	if x := f["ivr_path"]; x != nil {
		v.IVRPath, _ = d.nonEmpty(x, join(path, "ivr_path"))
	}
	if x := f["caller_id"]; x != nil {
		if s, ok := d.nonEmpty(x, join(path, "caller_id")); ok {
			if strings.Trim(s, "0123456789") != "" {
				d.add(x, join(path, "caller_id"), "must be digits only, as Yemot shows numbers, got %q", s)
			}
			v.CallerID = s
		}
	}
	if x := f["ring"]; x != nil {
		if r, ok := d.duration(x, join(path, "ring")); ok {
			switch {
			case r <= 0:
				d.add(x, join(path, "ring"), "must be positive")
			case r > YemotMaxRing:
				d.add(x, join(path, "ring"), "Yemot rings at most %s, got %s", YemotMaxRing, r)
			case r%time.Second != 0:
				d.add(x, join(path, "ring"), "must be whole seconds, got %s", r)
			}
			v.Ring = r
		}
	}
	if x := f["tzintuk"]; x != nil {
		v.Tzintuk = d.boolean(x, join(path, "tzintuk"))
	}
	if count > YemotMaxNumbers {
		d.add(at, path, "a Yemot campaign calls at most %d numbers, but this step calls %d", YemotMaxNumbers, count)
	}
	return v
}

func (d *decoder) ccai(n, at *yaml.Node, path string) *CCAIVia {
	f, _, ok := d.fields(n, path, "agents", "menu_id", "outbound_number", "lang")
	if !ok {
		return nil
	}
	v := &CCAIVia{}
	if x := f["agents"]; x != nil {
		v.Agents = d.stringsEach(x, join(path, "agents"), func(n *yaml.Node, path, a string) {
			if at := strings.Index(a, "@"); at <= 0 || at == len(a)-1 || strings.ContainsAny(a, " ,;") {
				d.add(n, path, "must be an agent's e-mail address, got %q", a)
			}
		})
	}
	if x := f["menu_id"]; x != nil {
		if id, ok := d.integer(x, join(path, "menu_id")); ok {
			if id <= 0 {
				d.add(x, join(path, "menu_id"), "must be a positive menu id, got %d", id)
			}
			v.MenuID = id
		}
	}
	if x := f["outbound_number"]; x != nil {
		if s, ok := d.str(x, join(path, "outbound_number")); ok {
			e164, err := phone.Parse(s)
			if err != nil {
				d.add(x, join(path, "outbound_number"), "%v", err)
			}
			v.OutboundNumber = e164
		}
	}
	if x := f["lang"]; x != nil {
		if s, ok := d.str(x, join(path, "lang")); ok {
			if !langPattern.MatchString(s) {
				d.add(x, join(path, "lang"), "must be an ISO 639-1 code such as en or ja, got %q", s)
			}
			v.Lang = s
		}
	}
	if len(v.Agents) == 0 && f["menu_id"] == nil {
		d.add(at, path, "needs at least one agent or a menu_id")
	}
	return v
}

// Provider names, as written in a step's via list.
const (
	IoTCall = "iotcall"
	Yemot   = "yemot"
	CCAI    = "ccai"
)
