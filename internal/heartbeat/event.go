package heartbeat

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/policy"
)

// Source is the source of the monitors' alert events (and the last token of
// their subject, alerts.heartbeat).
const Source = "heartbeat"

// LabelName is the label every monitor's alert carries, its value the
// monitor's name; it wins over a label of the same name in the file.
const LabelName = "heartbeat"

// AlertID is the id of the alert a monitor raises: "heartbeat/<name>".
// alert.CheckID accepts it (a '/' is allowed in ids). Over HTTP, the ack path
// needs the '/' escaped: POST /v1/alerts/heartbeat%2F<name>/ack.
func AlertID(name string) string { return "heartbeat/" + name }

// msgID is the Nats-Msg-Id of a monitor's alert event: one per missed
// deadline and status, so that a repeat (a redelivery, a second worker, a
// deadline that fires twice) is stored once within the duplicate window,
// and the events of another miss are new.
func msgID(name string, status alert.Status, missed time.Time) string {
	return fmt.Sprintf("heartbeat/%s/%s/%s", name, status, missed.UTC().Format(time.RFC3339Nano))
}

// firing is the alert event of a missed deadline: the monitor's labels plus
// heartbeat=<name>, its summary (or one saying what was missed), at the
// deadline, with annotations saying when it was last pinged.
func firing(h *policy.Heartbeat, rec *record, missed time.Time) pending {
	ann := map[string]string{
		"every":    h.Every.String(),
		"deadline": missed.UTC().Format(time.RFC3339),
	}
	if rec.LastPing.IsZero() {
		ann["last_ping"] = "never"
	} else {
		ann["last_ping"] = rec.LastPing.UTC().Format(time.RFC3339Nano)
	}
	return event(h, alert.Firing, missed, missed, ann)
}

// resolved is the alert event of the ping that ended a miss, at the ping's time.
func resolved(h *policy.Heartbeat, missed, pingAt time.Time) pending {
	return event(h, alert.Resolved, missed, pingAt, map[string]string{"last_ping": pingAt.UTC().Format(time.RFC3339Nano)})
}

func event(h *policy.Heartbeat, status alert.Status, missed, at time.Time, ann map[string]string) pending {
	summary := h.Summary
	if summary == "" {
		summary = fmt.Sprintf("heartbeat %s: no ping for %s", h.Name, h.Every)
	}
	ev := alert.Event{
		ID:          AlertID(h.Name),
		Status:      status,
		Summary:     summary,
		Labels:      Labels(h),
		Annotations: ann,
		Source:      Source,
		At:          at.UTC(),
	}
	data, err := json.Marshal(ev)
	if err != nil {
		// alert.Event of strings and a time always encodes.
		panic(fmt.Sprintf("encode heartbeat alert: %v", err))
	}
	return pending{MsgID: msgID(h.Name, status, missed), Event: data}
}

// Labels are the labels of a monitor's alert: its own plus heartbeat=<name>.
func Labels(h *policy.Heartbeat) map[string]string {
	l := make(map[string]string, len(h.Labels)+1)
	maps.Copy(l, h.Labels)
	l[LabelName] = h.Name
	return l
}
