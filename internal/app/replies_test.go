package app

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/providers"
)

const smsPolicy = `name: core
match:
  labels: {team: core}
people:
  noa: {phone: "+972 52-234-5678"}
steps:
  - notify: [noa]
    strategy: single
    via: [{yemot: {ivr_path: "ivr2:/3"}}]
    wait: 10m
`

// TestAckBySMSEndToEnd: through the real worker and the Yemot simulator,
// "ack" texted back by the person called stops the escalation within two
// polls of the text messages; the same text from a stranger, or sent by
// that person before the call, does not.
func TestAckBySMSEndToEnd(t *testing.T) {
	const every = time.Second
	cfg := testConfig(t, t.TempDir())
	cfg.Policies = policyDir(t, smsPolicy)
	cfg.RepliesEvery = every
	cfg.Getenv = func(k string) string {
		if k == "YEMOT_SMS_ACK" {
			return "1"
		}
		return ""
	}
	a := startEngineApp(t, cfg)
	sim := providers.SimOf[*yemot.Sim](a.Sims().Sims)
	_, events := subscribeOutcomes(t, a)
	noa := "+972522345678"

	early := time.Now().Add(-time.Minute)
	sim.ReceiveSMS(noa, "ack", early) // before she was called
	nc, err := nats.Connect(a.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Publish("alerts.test", []byte(`{"id":"core-down","status":"firing","labels":{"team":"core"}}`)); err != nil {
		t.Fatal(err)
	}
	called := next(t, events, outcome.Dispatched)
	if len(called.People) != 1 || called.People[0].Phone != noa {
		t.Fatalf("dispatched %+v: want noa", called)
	}
	sim.ReceiveSMS("+972501112233", "ack", time.Now().Add(time.Second)) // a stranger
	// Both are read and ignored (the worker reads every second; the metric
	// is the only sign, so it is polled).
	waitMetric(t, a, `escalator_replies_total{provider="yemot",result="ignored_number"}`, 2, 10*every)

	sent := time.Now()
	sim.ReceiveSMS(noa, " Ack ", sent.Add(time.Second))
	acked := next(t, events, outcome.Acknowledged)
	took := time.Since(sent)
	t.Logf("acknowledged %s after the text message (reading every %s)", took.Round(time.Millisecond), every)
	if acked.By != "noa" || acked.Via != "sms" || acked.EscalationID != called.EscalationID {
		t.Fatalf("acknowledged %+v: want the escalation, by noa, via sms", acked)
	}
	if took > 2*every {
		t.Errorf("the acknowledgement came %s after the text: more than two polls (%s)", took, 2*every)
	}
}

// next returns the next outcome of kind event, skipping others.
func next(t *testing.T, events <-chan outcome.Outcome, event string) outcome.Outcome {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case o := <-events:
			if o.Event == outcome.Acknowledged && event != outcome.Acknowledged {
				t.Fatalf("acknowledged too early: %+v", o)
			}
			if o.Event == event {
				return o
			}
		case <-deadline:
			t.Fatalf("no %s outcome", event)
		}
	}
}

// waitMetric polls /metrics until series reaches want (the worker tells no
// one when it has read a text message).
func waitMetric(t *testing.T, a *App, series string, want int, within time.Duration) {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(series) + ` (\d+)`)
	deadline := time.Now().Add(within)
	for {
		_, body := get(t, "http://"+a.HTTPAddr()+"/metrics")
		if m := re.FindStringSubmatch(body); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach %d within %s", series, want, within)
		}
		time.Sleep(100 * time.Millisecond) // poll interval, see above
	}
}
