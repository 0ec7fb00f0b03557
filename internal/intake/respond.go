package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/alert"
)

// errorBody is the JSON of every 4xx/5xx answer of the native endpoints.
type errorBody struct {
	Error string `json:"error"`
	// Field names the offending field, e.g. "alerts[2].status".
	Field string `json:"field,omitempty"`
}

// acceptedBody is the JSON of a 202 answer of the native endpoints.
type acceptedBody struct {
	Status     string   `json:"status"`
	Accepted   int      `json:"accepted"`
	Duplicates int      `json:"duplicates"`
	IDs        []string `json:"ids"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// readBody reads the request body; on failure it has answered 413 or 400.
func readBody(w http.ResponseWriter, r *http.Request, reply func(code int, msg string)) ([]byte, bool) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			reply(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is over the limit of %d bytes", mbe.Limit))
			return nil, false
		}
		reply(http.StatusBadRequest, "read request body: "+err.Error())
		return nil, false
	}
	return data, true
}

// errStore means JetStream did not store an event; the sender should retry.
var errStore = errors.New("could not store the event in JetStream; retry")

// publishAll validates nothing (callers have) and stores evs in order. It
// returns how many JetStream recognised as retries. On the first failure it
// stops: the sender retries the whole request, and the Nats-Msg-Id makes the
// events already stored count as duplicates, not twice.
func (in *Intake) publishAll(ctx context.Context, subject, source string, evs []alert.Event) (int, error) {
	dups := 0
	for _, ev := range evs {
		pctx, cancel := context.WithTimeout(ctx, in.cfg.PublishTimeout)
		dup, err := in.cfg.Publisher.Publish(pctx, subject, ev)
		cancel()
		if err != nil {
			in.log.Error("store alert event", zap.String("subject", subject), zap.String("alert", ev.ID), zap.Error(err))
			return dups, errStore
		}
		if dup {
			dups++
			in.cfg.Metrics.Received.WithLabelValues(source).Inc()
			in.cfg.Metrics.Duplicate.WithLabelValues(source).Inc()
		}
	}
	return dups, nil
}

// checkSize refuses an event larger, once encoded, than the NATS limit, so
// the HTTP path accepts nothing the consumer would dead-letter as too large.
func (in *Intake) checkSize(ev alert.Event) error {
	data, err := ev.MarshalJSON()
	if err != nil {
		return err
	}
	if len(data) > in.cfg.MaxEventSize {
		return &alert.InvalidError{Reason: alert.ReasonTooLarge, Msg: fmt.Sprintf("event is %d bytes, over the limit of %d", len(data), in.cfg.MaxEventSize)}
	}
	return nil
}

// rejected counts an event refused over HTTP.
func (in *Intake) rejected(source string, err error) {
	reason := alert.ReasonOf(err)
	if reason == "" {
		reason = alert.ReasonNotJSON
	}
	in.cfg.Metrics.Received.WithLabelValues(source).Inc()
	in.cfg.Metrics.Rejected.WithLabelValues(source, reason).Inc()
}

func statusFor(err error) int {
	if alert.ReasonOf(err) == alert.ReasonTooLarge {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}
