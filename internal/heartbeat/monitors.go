package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/policy"
)

// reloadAnyway is how often RunMonitors loads the monitors again without a
// reload: setting each deadline again heals one whose schedule a worker
// stopped before setting (it would otherwise wait for a restart or a reload).
const reloadAnyway = 10 * time.Minute

// RunMonitors loads the monitors in force at start, again after every
// policy reload (a new *policy.Set from Policies, looked for every
// ReloadEvery), and every 10 minutes anyway, until ctx ends. A load that
// fails is tried again at the next look. It returns ctx's error.
func (r *Runtime) RunMonitors(ctx context.Context) error {
	var loaded *policy.Set
	var at time.Time
	for {
		if set := r.cfg.Policies(); set != loaded || !r.clk.Now().Before(at.Add(reloadAnyway)) {
			if err := r.Load(ctx); err != nil {
				r.log.Warn("load heartbeat monitors: trying again", zap.Error(err), zap.Duration("in", r.cfg.ReloadEvery))
			} else {
				if set != loaded && set != nil && len(set.Heartbeats) > 0 {
					r.log.Info("heartbeat monitors loaded", zap.Int("monitors", len(set.Heartbeats)))
				}
				loaded, at = set, r.clk.Now()
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.clk.After(r.cfg.ReloadEvery):
		}
	}
}

// Load loads every monitor in force: a monitor with no state gets one, its
// first deadline counted from now (created with compare-and-set, so a second
// worker loading it too does not move it); a monitor with state keeps it,
// and its deadline (the state's since plus its every, which a reload may
// have changed) is set again, unless its alert is firing; events left in its
// outbox are stored.
//
// A monitor no longer in force is left as it is: its pending deadline finds
// no monitor and does nothing, and a firing alert of it stays firing (its
// escalation goes on until acknowledged or exhausted; resolve it with an
// alert event for its id). Should it come back, it resumes from its state.
func (r *Runtime) Load(ctx context.Context) error {
	idx := r.monitors()
	var errs []error
	for _, h := range idx.byName {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		if !natsx.ValidPingName(h.Name) {
			r.log.Error("heartbeat monitor name cannot be a NATS subject: it can never be pinged", zap.String("heartbeat", h.Name))
		}
		// A monitor's load is not cut short by a stop: its state is not
		// left without its deadline (each request has its timeout).
		if err := r.load(context.WithoutCancel(ctx), h); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *Runtime) load(ctx context.Context, h *policy.Heartbeat) error {
	k := key(h.Name)
	now := r.now()
	rec, created, err := r.update(ctx, k, func(cur *record) *record {
		if cur != nil {
			return nil
		}
		return &record{Name: h.Name, Since: now}
	})
	if err != nil {
		return fmt.Errorf("load heartbeat %s: %w", h.Name, err)
	}
	if created {
		r.log.Info("heartbeat monitor started", zap.String("heartbeat", h.Name), zap.Duration("every", h.Every),
			zap.Time("deadline", rec.deadline(h.Every)))
	}
	if err := r.flush(ctx, k, rec); err != nil {
		return err
	}
	if rec.firing() {
		return nil
	}
	return r.arm(ctx, h.Name, rec.deadline(h.Every))
}
