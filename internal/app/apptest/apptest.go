// Package apptest runs the real worker in a test: started before it
// returns, stopped (and checked to stop cleanly) when the test ends.
package apptest

import (
	"context"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/app"
)

// Run starts a worker with cfg and waits until it is ready; wait bounds the
// start and the stop at the test's end.
func Run(tb testing.TB, cfg app.Config, wait time.Duration) *app.App {
	tb.Helper()
	a, err := app.New(cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-a.Started():
	case err := <-done:
		cancel()
		tb.Fatalf("run: %v", err)
	case <-time.After(wait):
		cancel()
		tb.Fatal("the worker did not start")
	}
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("run returned %v", err)
			}
		case <-time.After(wait):
			tb.Error("the worker took too long to stop")
		}
	})
	return a
}
