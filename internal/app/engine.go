package app

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/engine"
	"github.com/escalator-oss/escalator/internal/policystore"
	"github.com/escalator-oss/escalator/internal/providers"
)

// startEngine builds the provider clients, the dispatcher with its guards,
// and the escalation engine.
func (a *App) startEngine(ctx context.Context, js jetstream.JetStream, setups providers.Setups, store *policystore.Store) error {
	clients, err := buildProviders(ctx, setups, js, a.cfg.Replicas, a.cfg.ProviderTransport, a.log)
	if err != nil {
		return err
	}
	// CCAI's 10 requests a second is kept by its client, per HTTP request
	// (one call may take several: next agent, menu fallback); a guard here
	// would count calls, not requests, and limit twice.
	guards := dispatch.NewGuards(dispatch.GuardsConfig{PerPersonPerHour: a.cfg.MaxCallsPerPersonPerHour})
	disp, err := dispatch.New(dispatch.Config{Providers: clients, Guards: guards, Logger: a.log,
		Registerer: a.reg, Secrets: setups.Secrets()})
	if err != nil {
		return err
	}
	policies := store.Current
	if a.sims != nil {
		policies = a.sims.follow(store.Current)
	}
	a.eng, err = engine.New(ctx, engine.Config{JS: js, Policies: policies, Dispatcher: disp,
		Answerers: answerers(clients), AckWords: a.cfg.AckWords, Silences: a.silences, Logger: a.log, Registerer: a.reg,
		PlaceAtOnce: a.cfg.Workers, Grace: a.cfg.ShutdownGrace})
	a.acknowledgers = acknowledgers(clients)
	return err
}

// acknowledgers are the providers that read people's replies, by name.
func acknowledgers(clients map[string]dispatch.Provider) map[string]dispatch.Acknowledger {
	out := map[string]dispatch.Acknowledger{}
	for name, p := range clients {
		if ack, ok := p.(dispatch.Acknowledger); ok {
			out[name] = ack
		}
	}
	return out
}
