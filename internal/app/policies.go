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
	"github.com/escalator-oss/escalator/internal/policystore"
)

// policyWatchInterval is how often the policy files are checked for changes.
const policyWatchInterval = 2 * time.Second

// loadPolicies loads the policies once; the worker does not start without
// valid ones. Every problem is logged by the store and is in the error.
func (a *App) loadPolicies() (*policystore.Store, error) {
	store, err := policystore.New([]string{a.cfg.Policies}, a.reg, clock.Real{}, a.log)
	if err != nil {
		return nil, err
	}
	if err := store.Reload(); err != nil {
		return nil, fmt.Errorf("start without valid policies:\n%w", err)
	}
	if set := store.Current(); set == nil || len(set.Policies) == 0 {
		return nil, fmt.Errorf("start without policies: none found in %s", a.cfg.Policies)
	}
	return store, nil
}

// checkProviders fails when a policy uses a provider this worker cannot
// call, listing every such step.
func checkProviders(store *policystore.Store, ok map[string]bool) error {
	if probs := store.Current().Strict(ok); len(probs) > 0 {
		return fmt.Errorf("check policies against the configured providers (set their environment variables, or use --simulate-providers):\n%w", probs)
	}
	return nil
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
