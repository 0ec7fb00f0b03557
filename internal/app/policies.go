package app

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/clock"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/policystore"
)

// policyWatchInterval is how often the policy files are checked for changes.
const policyWatchInterval = 2 * time.Second

// loadPolicies loads the policies once; the worker does not start without
// valid ones. They are checked against this worker's providers (opt), at
// start and on every reload, so a policy that needs a provider the worker
// cannot call is refused before an alert depends on it. Every problem is
// logged by the store and is in the error.
func (a *App) loadPolicies(opt policy.Options) (*policystore.Store, error) {
	store, err := policystore.New([]string{a.cfg.Policies}, a.reg, clock.Real{}, a.log)
	if err != nil {
		return nil, err
	}
	store.SetOptions(opt)
	if err := store.Reload(); err != nil {
		return nil, fmt.Errorf("start without valid policies (a provider that is not configured needs its environment variables, or --simulate-providers):\n%w", err)
	}
	if set := store.Current(); set == nil || len(set.Policies) == 0 {
		return nil, fmt.Errorf("start without policies: none found in %s", a.cfg.Policies)
	}
	return store, nil
}

// reloadOnHUP reloads the policies on every signal from hup until ctx
// ends. hup is registered for SIGHUP before the worker is ready (so that a
// SIGHUP early at start reloads, not ends the process) and stopped by Run.
// A failed reload is logged by the store and keeps the previous policies in
// force.
func (a *App) reloadOnHUP(ctx context.Context, store *policystore.Store, hup <-chan os.Signal) error {
	log := a.log.With(zap.String("component", "app"))
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-hup:
			log.Info("SIGHUP: reloading policies")
			_ = store.Reload() // problems are logged by the store
		}
	}
}

// watchPolicyFiles reloads the policies when their files change, until ctx
// ends. A failed reload keeps the previous policies in force.
func (a *App) watchPolicyFiles(ctx context.Context, store *policystore.Store) error {
	return store.Watch(ctx, policyWatchInterval)
}
