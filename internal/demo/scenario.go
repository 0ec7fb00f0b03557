package demo

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/outcome"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/providers"
)

// The sample alerts.
const (
	dbAlert   = "db-primary-down"
	payAlert  = "checkout-errors"
	coreAlert = "core-router-down"
)

// run is the scripted scenario; it returns once the last expected outcome
// was seen.
func (s *script) run(ctx context.Context) error {
	s.say("escalator demo: an embedded NATS server, simulated IoTCall, Yemot and CCAI on loopback;")
	s.say("no real phone calls are placed. Policies: database-demo, payments-demo.\n")

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
	s.say("   checkout recovers")
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

	s.say("\ndemo complete: every call above reached a simulator, never a real phone.")
	return nil
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
