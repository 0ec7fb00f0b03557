package heartbeat

import (
	"maps"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/policy"
)

// The alert events a monitor raises are what alert.Decode accepts, with the
// id heartbeat/<name>, the monitor's labels plus heartbeat=<name> (which
// wins over a label of that name), and its summary or one saying what was
// missed.
func TestAlertEvents(t *testing.T) {
	missed := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	ping := missed.Add(90 * time.Minute)
	tests := []struct {
		name        string
		h           *policy.Heartbeat
		ev          pending
		wantStatus  alert.Status
		wantAt      time.Time
		wantSummary string
		wantLabels  map[string]string
		wantMsgID   string
	}{{
		name: "firing",
		h: &policy.Heartbeat{Name: "nightly-backup", Every: 25 * time.Hour, Summary: "the nightly backup has not reported",
			Labels: map[string]string{"team": "db", "service": "backup", "severity": "critical"}},
		wantStatus: alert.Firing, wantAt: missed, wantSummary: "the nightly backup has not reported",
		wantLabels: map[string]string{"team": "db", "service": "backup", "severity": "critical", "heartbeat": "nightly-backup"},
		wantMsgID:  "heartbeat/nightly-backup/firing/2026-11-23T03:00:00Z",
	}, {
		name:       "resolved, no summary, a heartbeat label in the file",
		h:          &policy.Heartbeat{Name: "etl.hourly", Every: time.Hour, Labels: map[string]string{"heartbeat": "other"}},
		wantStatus: alert.Resolved, wantAt: ping, wantSummary: "heartbeat etl.hourly: no ping for 1h0m0s",
		wantLabels: map[string]string{"heartbeat": "etl.hourly"},
		wantMsgID:  "heartbeat/etl.hourly/resolved/2026-11-23T03:00:00Z",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			own := maps.Clone(tt.h.Labels)
			p := firing(tt.h, &record{Name: tt.h.Name}, missed)
			if tt.wantStatus == alert.Resolved {
				p = resolved(tt.h, missed, ping)
			}
			ev, err := alert.Decode(p.Event, 0)
			if err != nil {
				t.Fatalf("alert.Decode: %v\n%s", err, p.Event)
			}
			if ev.ID != "heartbeat/"+tt.h.Name || ev.Status != tt.wantStatus || !ev.At.Equal(tt.wantAt) ||
				ev.Summary != tt.wantSummary || ev.Source != "heartbeat" {
				t.Errorf("event %+v", ev)
			}
			if len(ev.Labels) != len(tt.wantLabels) {
				t.Errorf("labels %v, want %v", ev.Labels, tt.wantLabels)
			}
			for k, v := range tt.wantLabels {
				if ev.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, ev.Labels[k], v)
				}
			}
			if p.MsgID != tt.wantMsgID {
				t.Errorf("message id %q, want %q", p.MsgID, tt.wantMsgID)
			}
			if !maps.Equal(tt.h.Labels, own) {
				t.Errorf("the monitor's own labels changed: %v, were %v", tt.h.Labels, own)
			}
		})
	}
	if err := alert.CheckID(AlertID("nightly-backup")); err != nil {
		t.Errorf("alert.CheckID(%q): %v", AlertID("nightly-backup"), err)
	}
}
