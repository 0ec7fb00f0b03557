package app

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/engine"
	"github.com/escalator-oss/escalator/internal/policystore"
)

// ccaiRate is the CCAI Platform's documented limit: 10 requests a second.
const ccaiRate = 10

// startEngine builds the provider clients, the dispatcher with its guards,
// and the escalation engine.
func (a *App) startEngine(ctx context.Context, js jetstream.JetStream, env dispatch.Env, store *policystore.Store) error {
	providers, err := buildProviders(ctx, env, js, a.log)
	if err != nil {
		return err
	}
	guards := dispatch.NewGuards(dispatch.GuardsConfig{
		Providers:        map[string]dispatch.ProviderLimits{dispatch.CCAI: {Rate: rate.Limit(ccaiRate), Burst: ccaiRate}},
		PerPersonPerHour: a.cfg.MaxCallsPerPersonPerHour,
	})
	disp, err := dispatch.New(dispatch.Config{Providers: providers, Guards: guards, Logger: a.log,
		Registerer: a.reg, Secrets: env.Secrets()})
	if err != nil {
		return err
	}
	policies := store.Current
	if a.sims != nil {
		policies = a.sims.follow(store.Current)
	}
	a.eng, err = engine.New(ctx, engine.Config{JS: js, Policies: policies, Dispatcher: disp,
		Logger: a.log, Registerer: a.reg})
	return err
}
