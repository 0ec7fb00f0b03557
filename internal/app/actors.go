package app

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/oklog/run"
	"go.uber.org/zap"
)

// The worker's parts run as the actors of one run.Group (Run builds it):
// the first part to return, for whatever reason, interrupts all of them,
// and the group's Run returns only when every part has returned. The
// interrupts are called one after another in the order the parts were
// added, and each waits until what it stops has stopped: the order parts
// are added in is the shutdown order.

// stage is a set of parts stopped together, such as the two consumers.
// Interrupting any of its parts cancels the stage's context and waits until
// each of them has returned, so the next stage is asked to stop only once
// this one has.
type stage struct {
	name   string
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	log    *zap.Logger
	// failed is called when a part ends on its own, before the others are
	// interrupted (the worker stops being ready at once).
	failed func()
}

// newStage returns a stage whose parts run on a context carrying parent's
// values, cancelled only by the stage's stop: the caller's context ending
// starts the shutdown, which stops the stages in order.
func newStage(parent context.Context, name string, log *zap.Logger, failed func()) *stage {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	return &stage{name: name, ctx: ctx, cancel: cancel, log: log, failed: failed}
}

// add adds the part f, named name, to g as a member of the stage. f must
// return once its context is cancelled. A return before that, with an
// error or without one, is a failure: it stops the worker, and Run returns
// it as "<name>: <error>".
func (s *stage) add(g *run.Group, name string, f func(context.Context) error) {
	s.wg.Add(1)
	g.Add(func() error {
		defer s.wg.Done()
		err := f(s.ctx)
		if s.ctx.Err() != nil {
			// Asked to stop: a clean end, whatever it says about it.
			if err != nil && !errors.Is(err, context.Canceled) {
				s.log.Warn(name+" stopped with an error", zap.Error(err))
			}
			return nil
		}
		if s.failed != nil {
			s.failed()
		}
		if err == nil {
			err = errors.New("stopped on its own")
		}
		return fmt.Errorf("%s: %w", name, err)
	}, func(error) { s.stop() })
}

// stop cancels the stage's parts and waits until all have returned. It is
// safe to call more than once. Call it only from the group's interrupts:
// it waits for parts that only the group's Run starts.
func (s *stage) stop() {
	s.cancel()
	s.wg.Wait()
}
