package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/heartbeat"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/providers"
	"github.com/escalator-oss/escalator/internal/silence"
)

// The sample alerts, and the heartbeat monitor of policies/heartbeat.yaml.
const (
	dbAlert     = "db-primary-down"
	payAlert    = "checkout-errors"
	coreAlert   = "core-router-down"
	lagAlert    = "db-replica-lag"
	backupBeat  = "demo-backup"
	silenceTime = 3 * time.Second
)

// run is the scripted scenario; it returns once the last expected outcome
// was seen.
func (s *script) run(ctx context.Context) error {
	s.say("escalator demo: an embedded NATS server, simulated IoTCall, Yemot and CCAI on loopback;")
	s.say("no real phone calls are placed. Policies: database-demo, payments-demo, core-demo;")
	s.say("a heartbeat monitor, demo-backup, which a backup job pings every second.\n")
	stopJob, err := s.backupJob(ctx)
	if err != nil {
		return err
	}
	defer stopJob()

	s.say("== 1. The primary database goes down (team=db)")
	if err := s.publish(ctx, map[string]any{"id": dbAlert, "status": "firing", "severity": "critical",
		"summary": "Primary database is down", "labels": map[string]string{"team": "db", "cluster": "tokyo-1"}}); err != nil {
		return err
	}
	if _, err := s.await(ctx, "the escalation to start", dbAlert, is(outcome.Started)); err != nil {
		return err
	}
	if _, err := s.await(ctx, "step 1's call", dbAlert, dispatchedAt(0)); err != nil {
		return err
	}
	s.say("   nobody acknowledges within the step's wait (2s)...")
	if _, err := s.await(ctx, "step 2's rotation", dbAlert, dispatchedAt(1)); err != nil {
		return err
	}
	s.say("   kenji picks up and acknowledges")
	if err := s.publish(ctx, map[string]any{"id": dbAlert, "status": "acknowledged", "by": "kenji"}); err != nil {
		return err
	}
	if _, err := s.await(ctx, "the acknowledgement", dbAlert, is(outcome.Acknowledged)); err != nil {
		return err
	}
	s.say("   the database is back")
	if err := s.publish(ctx, map[string]any{"id": dbAlert, "status": "resolved"}); err != nil {
		return err
	}
	if _, err := s.await(ctx, "the resolution", dbAlert, is(outcome.Resolved)); err != nil {
		return err
	}

	s.say("\n== 2. IoTCall has an outage (the simulator answers 503), then checkout fails (team=payments)")
	providers.SimOf[*iotcall.Sim](s.a.Sims().Sims).FailNext(100, http.StatusServiceUnavailable)
	if err := s.publish(ctx, map[string]any{"id": payAlert, "status": "firing", "severity": "critical",
		"summary": "Checkout error rate above 5%", "labels": map[string]string{"team": "payments"}}); err != nil {
		return err
	}
	if _, err := s.await(ctx, "the fallback to Yemot", payAlert, is(outcome.Fallback)); err != nil {
		return err
	}
	if _, err := s.await(ctx, "the Yemot broadcast", payAlert, func(o outcome.Outcome) bool {
		return o.Event == outcome.Dispatched && o.Provider == yemot.Name
	}); err != nil {
		return err
	}
	s.say("   checkout recovers; so does IoTCall")
	providers.SimOf[*iotcall.Sim](s.a.Sims().Sims).Heal()
	if err := s.publish(ctx, map[string]any{"id": payAlert, "status": "resolved"}); err != nil {
		return err
	}
	if _, err := s.await(ctx, "the resolution", payAlert, is(outcome.Resolved)); err != nil {
		return err
	}
	s.say("\n== 3. The core router goes down (service=core-router); Noa is called through Yemot")
	if err := s.publish(ctx, map[string]any{"id": coreAlert, "status": "firing", "severity": "critical",
		"summary": "Core router unreachable", "labels": map[string]string{"service": "core-router"}}); err != nil {
		return err
	}
	called, err := s.await(ctx, "Noa's call", coreAlert, dispatchedAt(0))
	if err != nil {
		return err
	}
	s.say("   Noa texts back \"ack %s\" (the escalation's short code)", called.ShortCode)
	providers.SimOf[*yemot.Sim](s.a.Sims().Sims).ReceiveSMS(called.People[0].Phone, "ack "+called.ShortCode, time.Now())
	if _, err := s.await(ctx, "the acknowledgement by text message", coreAlert, is(outcome.Acknowledged)); err != nil {
		return err
	}
	if err := s.publish(ctx, map[string]any{"id": coreAlert, "status": "resolved"}); err != nil {
		return err
	}
	if _, err := s.await(ctx, "the resolution", coreAlert, is(outcome.Resolved)); err != nil {
		return err
	}

	if err := s.silenced(ctx); err != nil {
		return err
	}
	if err := s.heartbeat(ctx, stopJob); err != nil {
		return err
	}
	s.say("\ndemo complete: every call above reached a simulator, never a real phone.")
	return nil
}

// silenced: a silence made over the HTTP API keeps an alert quiet; the
// alert still fires when it ends, and escalates then.
func (s *script) silenced(ctx context.Context) error {
	s.say("\n== 4. A planned migration: ops silence team=db for %s over the API", silenceTime)
	body := fmt.Sprintf(`{"matchers": {"team": "db"}, "duration": %q, "by": "ops", "comment": "replica migration"}`, silenceTime)
	s.say("   POST /v1/silences %s", body)
	sl, err := s.postSilence(ctx, body)
	if err != nil {
		return err
	}
	s.say("   201: silence %s, %s until %s", sl.ID, sl.Status, sl.EndsAt.Format(time.TimeOnly))
	s.say("   the replica starts lagging during the migration")
	if err := s.publish(ctx, map[string]any{"id": lagAlert, "status": "firing", "severity": "warning",
		"summary": "Replica lag above 30s", "labels": map[string]string{"team": "db", "cluster": "tokyo-2"}}); err != nil {
		return err
	}
	if _, err := s.await(ctx, "the silence", lagAlert, is(outcome.Silenced)); err != nil {
		return err
	}
	s.say("   ...the silence ends; the replica still lags")
	if _, err := s.await(ctx, "the escalation after the silence", lagAlert, dispatchedAt(0)); err != nil {
		return err
	}
	if err := s.publish(ctx, map[string]any{"id": lagAlert, "status": "resolved"}); err != nil {
		return err
	}
	_, err = s.await(ctx, "the resolution", lagAlert, is(outcome.Resolved))
	return err
}

// heartbeat: the backup job stops pinging; its monitor raises an alert,
// which escalates; the job's next ping resolves it.
func (s *script) heartbeat(ctx context.Context, stopJob func()) error {
	s.say("\n== 5. The backup job hangs: no more pings to heartbeats.%s (its monitor allows 5s)", backupBeat)
	stopJob()
	id := heartbeat.AlertID(backupBeat)
	if _, err := s.await(ctx, "the missed heartbeat's escalation", id, dispatchedAt(0)); err != nil {
		return err
	}
	s.say("   the job is restarted and pings again")
	if err := heartbeat.Ping(ctx, s.js, backupBeat); err != nil {
		return fmt.Errorf("ping %s: %w", backupBeat, err)
	}
	_, err := s.await(ctx, "the heartbeat's resolution", id, is(outcome.Resolved))
	return err
}

// backupJob pings the monitor demo-backup every second until stopped (a
// job that reports while it runs), the first ping at once.
func (s *script) backupJob(ctx context.Context) (stop func(), err error) {
	if err := heartbeat.Ping(ctx, s.js, backupBeat); err != nil {
		return nil, fmt.Errorf("ping %s: %w", backupBeat, err)
	}
	jctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-jctx.Done():
				return
			case <-tick.C: // the job's own pace
				_ = heartbeat.Ping(jctx, s.js, backupBeat) // a missed ping is what the monitor is for
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }, nil
}

// postSilence makes a silence over the worker's HTTP API.
func (s *script) postSilence(ctx context.Context, body string) (silence.View, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.a.HTTPAddr()+"/v1/silences", strings.NewReader(body))
	if err != nil {
		return silence.View{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return silence.View{}, fmt.Errorf("make the silence: %w", err)
	}
	defer resp.Body.Close()
	var v silence.View
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		return v, fmt.Errorf("make the silence: %s %s", resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return v, fmt.Errorf("make the silence: %w", err)
	}
	return v, nil
}

func dispatchedAt(step int) func(outcome.Outcome) bool {
	return func(o outcome.Outcome) bool { return o.Event == outcome.Dispatched && o.Step == step }
}

func (s *script) say(format string, args ...any) { fmt.Fprintf(s.out, format+"\n", args...) }

// narrate prints one outcome, and for a call what the simulator rang.
func (s *script) narrate(o outcome.Outcome) {
	step := fmt.Sprintf("step %d", o.Step+1)
	switch o.Event {
	case outcome.Started:
		s.say("   [%s] matched policy %s: escalation %s started", o.AlertID, o.Policy, o.EscalationID)
	case outcome.Dispatched:
		s.say("   [%s] %s: called via %s: %s%s", o.AlertID, step, o.Provider, people(o.People), ref(o))
		s.rang(o.Provider)
	case outcome.DispatchFailed:
		s.say("   [%s] %s: %s failed: %s", o.AlertID, step, o.Provider, o.Error)
	case outcome.Fallback:
		s.say("   [%s] %s: falling back from %s to %s for %s", o.AlertID, step, o.Provider, o.Next, people(o.People))
	case outcome.Silenced:
		s.say("   [%s] silenced (%s): nobody is called", o.AlertID, o.Reason)
	case outcome.Unacknowledged:
		s.say("   [%s] the acknowledgement timed out (ack_timeout) with the alert still firing: paging again from step 1", o.AlertID)
	case outcome.Acknowledged:
		s.say("   [%s] acknowledged by %s%s: no further steps", o.AlertID, orSomeone(o.By), via(o.Via))
	case outcome.Resolved:
		s.say("   [%s] resolved: escalation %s is over", o.AlertID, o.EscalationID)
	case outcome.Unmatched:
		s.say("   [%s] matched no policy", o.AlertID)
	default:
		s.say("   [%s] %s %s %s", o.AlertID, o.Event, step, o.Reason)
	}
}

// rang prints the calls the provider's simulator recorded since last time.
func (s *script) rang(provider string) {
	sims := s.a.Sims()
	switch provider {
	case iotcall.Name:
		calls := providers.SimOf[*iotcall.Sim](sims.Sims).Calls()
		for _, c := range calls[min(s.iotcallSeen, len(calls)):] {
			s.say("      IoTCall simulator: rule %s rang %s", c.Rule, strings.Join(c.Tels, ", "))
		}
		s.iotcallSeen = len(calls)
	case yemot.Name:
		cs := providers.SimOf[*yemot.Sim](sims.Sims).Campaigns()
		for _, c := range cs[min(s.yemotSeen, len(cs)):] {
			s.say("      Yemot simulator: campaign %s dialled %s", c.ID, strings.Join(c.Phones, ", "))
		}
		s.yemotSeen = len(cs)
	}
}

func people(ps []provider.Person) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Name + " (" + p.Phone + ")"
	}
	return strings.Join(parts, ", ")
}

func ref(o outcome.Outcome) string {
	if o.Reference == "" {
		return ""
	}
	return " [ref " + o.Reference + "]"
}

func orSomeone(by string) string {
	if by == "" {
		return "someone"
	}
	return by
}

// via says how an acknowledgement came, when it was not an alert event.
func via(v string) string {
	switch v {
	case "sms":
		return " (a text message back)"
	case "answer":
		return " (the call was answered)"
	}
	return ""
}
