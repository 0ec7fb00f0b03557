package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
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

// watchPolicies reloads the policies when their files change and on SIGHUP,
// until ctx ends. A failed reload keeps the previous policies in force.
func (a *App) watchPolicies(ctx context.Context, store *policystore.Store) {
	log := a.log.With(zap.String("component", "app"))
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading policies")
				_ = store.Reload() // problems are logged by the store
			}
		}
	}()
	go func() {
		if err := store.Watch(ctx, policyWatchInterval); err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("policy watch stopped", zap.Error(err))
		}
	}()
}
