package yemotsim

import (
	"fmt"
	"time"
)

const (
	bridging = "CallExtensionBridging"
	tzintuk  = "RunTzintuk"
)

// The entry statuses the simulator gives by itself. GetCampaignStatus's
// statuses (bridged, done, no_answer, failed, busy) are not in the call
// manual; the status of a number still ringing is not documented at all:
// "dialing" is the simulator's.
const (
	entryDialing  = "dialing"
	entryBridged  = "bridged"
	entryNoAnswer = "no_answer"
)

// campaign is a campaign as the simulator keeps it: what happens to its
// calls is worked out when someone looks (at), from the clock.
type campaign struct {
	Campaign
	set       map[string]string        // entry statuses a test set, for good
	answerAt  map[string]time.Duration // numbers that answer, this long after the start
	statusSet string                   // a campaignStatus a test set, for good
}

// at returns the campaign as it is at now: each call rings until it is
// answered (WillAnswer) or its ring time is over (no_answer), unless a test
// set its status; the campaign is FINISHED once every call has ended.
func (c *campaign) at(now time.Time) Campaign {
	out := c.Campaign
	out.Entries = make(map[string]string, len(c.Phones))
	ring := time.Duration(c.CallsTimeOut) * time.Second
	over := true
	for _, n := range c.Phones {
		st, ok := c.set[n]
		if !ok {
			after, answers := c.answerAt[n]
			switch {
			case answers && after < ring && !now.Before(c.Started.Add(after)):
				st = entryBridged
			case !now.Before(c.Started.Add(ring)):
				st = entryNoAnswer
			default:
				st = entryDialing
			}
		}
		out.Entries[n] = st
		over = over && st != entryDialing
	}
	switch {
	case c.statusSet != "":
		out.Status = c.statusSet
	case over:
		out.Status = "FINISHED"
	default:
		out.Status = "RUNNING"
	}
	return out
}

// startCampaign runs CallExtensionBridging or RunTzintuk (s.mu held).
func (s *Server) startCampaign(cmd string, p params) answer {
	phones, form, err := p.phones()
	if err != nil {
		return fail("ERROR", err.Error())
	}
	if len(phones) == 0 {
		return fail("ERROR", "phones is required")
	}
	if len(phones) > 500 {
		return fail("ERROR", fmt.Sprintf("too many phones: %d, at most 500 per campaign", len(phones)))
	}
	var timeout int
	if cmd == bridging {
		timeout, err = p.num("callsTimeOut", 30)
		if err == nil && (timeout < 1 || timeout > 35) {
			err = fmt.Errorf("callsTimeOut %d out of range: at most 35 seconds", timeout)
		}
	} else {
		// TzintukTimeOut is not in the call manual; its default and range
		// are not documented. A tzintuk rings a few seconds at most.
		timeout, err = p.num("TzintukTimeOut", 5)
		if err == nil && (timeout < 1 || timeout > 35) {
			err = fmt.Errorf("TzintukTimeOut %d out of range", timeout)
		}
	}
	if err != nil {
		return fail("ERROR", err.Error())
	}
	c := &campaign{
		Campaign: Campaign{ID: s.newID(), Command: cmd, Form: form, IVRPath: p.str("ivrPath"), CallerID: p.str("callerId"),
			CallsTimeOut: timeout, Started: s.cfg.Clock.Now()},
		set: map[string]string{}, answerAt: map[string]time.Duration{},
	}
	errs := map[string]string{}
	for _, n := range phones {
		if reason, ok := s.rejects[n]; ok {
			errs[n] = reason
		} else if !wellFormed(n) {
			errs[n] = "not Vaild"
		} else {
			c.Phones = append(c.Phones, n)
			if after, ok := s.answers[n]; ok && cmd == bridging {
				c.answerAt[n] = after
			}
		}
	}
	s.campaigns = append(s.campaigns, c)
	callerID := c.CallerID
	if callerID == "" {
		callerID = s.cfg.System
	}
	var errors any = errs
	if len(errs) == 0 {
		errors = []string{} // PHP encodes an empty array as []
	}
	return answer{"responseStatus": "OK", "yAfastVersion": "sim", "module": "menu", "callerId": callerID,
		"callsCount": len(c.Phones), "bilingPerCall": 1, "errors": errors, "callsTimeout": timeout, "campaignId": c.ID}
}

// campaignStatus runs GetCampaignStatus (s.mu held). Its answer's shape is
// the public client code's, not the call manual's (which does not have the
// command).
func (s *Server) campaignStatus(id string) answer {
	for _, c := range s.campaigns {
		if c.ID != id {
			continue
		}
		now := c.at(s.cfg.Clock.Now())
		entries := make([]answer, 0, len(c.Phones))
		for _, n := range c.Phones {
			entries = append(entries, answer{"phone": n, "entryStatus": now.Entries[n]})
		}
		return answer{"responseStatus": "OK", "campaign": answer{"campaignId": c.ID, "campaignStatus": now.Status}, "entries": entries}
	}
	return fail("ERROR", fmt.Sprintf("campaign %q not found", id))
}

// wellFormed accepts numbers of 7 to 15 digits, as dialled from Israel.
func wellFormed(n string) bool {
	if len(n) < 7 || len(n) > 15 {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
