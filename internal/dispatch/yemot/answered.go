package yemot

import (
	"context"
	"fmt"
	"strings"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/phone"
)

// CampaignStatus is what GetCampaignStatus says about one campaign.
type CampaignStatus struct {
	// Status is the campaign's campaignStatus: RUNNING, PAUSED, STOPPING,
	// STOPPED or FINISHED.
	Status string
	// Entries are the campaign's numbers and their entryStatus (bridged,
	// done, no_answer, failed, busy).
	Entries []Entry
}

// Entry is one number of a campaign.
type Entry struct {
	Phone  string `json:"phone"`
	Status string `json:"entryStatus"`
}

// Over reports whether the campaign will dial no more.
func (s CampaignStatus) Over() bool {
	st := strings.ToUpper(strings.TrimSpace(s.Status))
	return st == "FINISHED" || st == "STOPPED"
}

// CampaignStatus reads a campaign's status with GetCampaignStatus.
func (c *Client) CampaignStatus(ctx context.Context, campaignID string) (CampaignStatus, error) {
	var out struct {
		Campaign struct {
			Status string `json:"campaignStatus"`
		} `json:"campaign"`
		Entries []Entry `json:"entries"`
	}
	err := c.command(ctx, "GetCampaignStatus", func(tok string) any {
		return struct {
			Token      string `json:"token"`
			CampaignID string `json:"campaignId"`
		}{tok, campaignID}
	}, &out)
	if err != nil {
		return CampaignStatus{}, fmt.Errorf("read yemot campaign status: %w", err)
	}
	return CampaignStatus{Status: out.Campaign.Status, Entries: out.Entries}, nil
}

// answered implements dispatch.AnswerChecker (see Provider): whether anyone
// of res's campaigns was bridged into the extension (answered), by whom,
// and whether every campaign is over.
func (c *Client) answered(ctx context.Context, res dispatch.Result) (answered bool, by string, done bool, err error) {
	names := map[string]string{}
	for _, p := range res.Reached {
		if n, err := phone.Yemot(p.Phone); err == nil {
			names[n] = p.Name
		}
	}
	done = true
	for _, id := range res.References {
		st, err := c.CampaignStatus(ctx, id)
		if err != nil {
			return false, "", false, err
		}
		for _, e := range st.Entries {
			if e.Status == "bridged" {
				return true, names[e.Phone], true, nil
			}
		}
		done = done && st.Over()
	}
	return false, "", done, nil
}
