package intake

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/escalator-oss/escalator/internal/alert"
	"github.com/escalator-oss/escalator/internal/metrics"
)

// memPublisher stores events in memory. It stands in for JetStream only
// where the store is beside the point (fuzzing the payload conversion);
// every test of storing uses a real JetStream server.
type memPublisher struct {
	subjects []string
	events   []alert.Event
}

func (p *memPublisher) Publish(_ context.Context, subject string, ev alert.Event) (bool, error) {
	p.subjects = append(p.subjects, subject)
	p.events = append(p.events, ev)
	return false, nil
}

// fuzzMaxEvent is the event size limit of the fuzzed intake: small, so the
// fuzzer reaches the 413 path.
const fuzzMaxEvent = 2 << 10

// FuzzAlertmanager posts arbitrary bodies to POST /v1/alertmanager. The
// handler must never panic and never answer 5xx to bad input (the store
// here always succeeds); 202 means every alert of the payload was stored and
// each stored event passes alert.Decode as the consumer will run it; any
// other answer is a 4xx with nothing stored. The seed corpus is in
// testdata/fuzz/FuzzAlertmanager.
func FuzzAlertmanager(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		pub := &memPublisher{}
		in, err := New(Config{Publisher: pub, MaxBody: 16 << 10, MaxEventSize: fuzzMaxEvent,
			Metrics: metrics.NewAlerts(prometheus.NewRegistry())})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		in.Register(mux)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/alertmanager", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		mux.ServeHTTP(rec, req)

		code := rec.Code
		switch {
		case code == http.StatusAccepted:
			if len(pub.events) == 0 {
				t.Fatalf("202 with nothing stored: %s", rec.Body)
			}
			for i, ev := range pub.events {
				if pub.subjects[i] != SubjectAlertmanager && pub.subjects[i] != SubjectGrafana {
					t.Fatalf("stored on %q", pub.subjects[i])
				}
				data, err := ev.MarshalJSON()
				if err != nil {
					t.Fatalf("stored event %d does not encode: %v", i, err)
				}
				got, err := alert.Decode(data, fuzzMaxEvent)
				if err != nil {
					t.Fatalf("202, but stored event %d would be dead-lettered: %v\n%s", i, err, data)
				}
				if got.ID != ev.ID {
					t.Fatalf("stored event %d has id %q, decodes as %q", i, ev.ID, got.ID)
				}
			}
		case code >= 400 && code < 500:
			if len(pub.events) != 0 {
				t.Fatalf("%d, but %d events were stored: %s", code, len(pub.events), rec.Body)
			}
		default:
			t.Fatalf("answered %d to a bad payload: %s", code, rec.Body)
		}
	})
}
