package ccaisim

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Event is one step of a call's course, as History lists them.
type Event struct {
	Call       int
	Agent      string // the call's agent, "" for a call queued into a menu
	Status     string // assigned or queued when created, then each new status
	FailReason string
	At         time.Time // on the simulator's clock
}

// ended reports whether a call in status is over: its agent is free again.
func ended(status string) bool { return status == "failed" || status == "finished" }

// create records c as created now, making its agent busy; s.mu is held.
func (s *Server) create(c *Call) {
	c.ID = 397 + len(s.calls)
	c.Created = s.cfg.Clock.Now()
	s.calls = append(s.calls, c)
	if c.AgentEmail != "" {
		s.busy[c.AgentEmail] = c.ID
	}
	s.event(c)
}

// event records c's status in the history, frees its agent once it ended,
// and wakes Await; s.mu is held.
func (s *Server) event(c *Call) {
	if ended(c.Status) && c.AgentEmail != "" && s.busy[c.AgentEmail] == c.ID {
		delete(s.busy, c.AgentEmail)
	}
	s.history = append(s.history, Event{Call: c.ID, Agent: c.AgentEmail, Status: c.Status, FailReason: c.FailReason,
		At: s.cfg.Clock.Now()})
	close(s.changed)
	s.changed = make(chan struct{})
}

// tick moves the calls nobody answered along on the clock: connecting after
// a quarter of NoAnswerAfter, failed with eu_no_answer after all of it;
// s.mu is held.
func (s *Server) tick() {
	if s.cfg.NoAnswerAfter < 0 {
		return
	}
	now := s.cfg.Clock.Now()
	for _, c := range s.calls {
		age := now.Sub(c.Created)
		switch {
		case c.Status != "assigned" && c.Status != "connecting" && c.Status != "queued":
		case age >= s.cfg.NoAnswerAfter:
			c.Status, c.FailReason = "failed", "eu_no_answer"
			s.event(c)
		case c.Status == "assigned" && age >= s.cfg.NoAnswerAfter/4:
			c.Status = "connecting"
			s.event(c)
		}
	}
}

// busyWith returns the call agent is on, or 0; s.mu is held.
func (s *Server) busyWith(agent string) int {
	s.tick()
	return s.busy[agent]
}

// find returns call id; s.mu is held.
func (s *Server) find(id int) (*Call, error) {
	for _, c := range s.calls {
		if c.ID == id {
			return c, nil
		}
	}
	return nil, fmt.Errorf("ccaisim: no call %d", id)
}

// AnswerCall has the person answer call id: connected, its agent still
// busy until EndCall.
func (s *Server) AnswerCall(id int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick()
	c, err := s.find(id)
	if err != nil {
		return err
	}
	if ended(c.Status) || c.Status == "connected" {
		return fmt.Errorf("ccaisim: call %d is %s, it cannot be answered", id, c.Status)
	}
	c.Status = "connected"
	s.event(c)
	return nil
}

// EndCall ends call id, freeing its agent: finished when failReason is
// empty (the call must have been answered), otherwise failed with that
// fail_reason (eu_no_answer, eu_busy, eu_rejected, ag_ignored ...; the call
// must not have been answered).
func (s *Server) EndCall(id int, failReason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick()
	c, err := s.find(id)
	if err != nil {
		return err
	}
	switch {
	case ended(c.Status):
		return fmt.Errorf("ccaisim: call %d already ended (%s)", id, c.Status)
	case failReason == "" && c.Status != "connected":
		return fmt.Errorf("ccaisim: call %d was never connected: end it with a fail_reason", id)
	case failReason != "" && c.Status == "connected":
		return fmt.Errorf("ccaisim: call %d was connected: it ends finished, not failed", id)
	case failReason == "":
		c.Status = "finished"
	default:
		c.Status, c.FailReason = "failed", failReason
	}
	s.event(c)
	return nil
}

// SetCallStatus sets a call's status (and fail_reason, for failed), as the
// Manager API's call list then shows it; finished and failed free its agent.
func (s *Server) SetCallStatus(id int, status, failReason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.find(id)
	if err != nil {
		return err
	}
	c.Status, c.FailReason = status, failReason
	s.event(c)
	return nil
}

// History returns every call's course so far, in order: created (assigned
// or queued), then each status it took.
func (s *Server) History() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick()
	return slices.Clone(s.history)
}

// Await waits until ready holds for the calls (checked now and after each
// call event) and returns them, or returns ctx's error. Calls that end on
// the clock are seen when something reads the simulator (a request, Calls,
// History) after their time.
func (s *Server) Await(ctx context.Context, ready func([]Call) bool) ([]Call, error) {
	for {
		s.mu.Lock()
		s.tick()
		calls, changed := s.copyCalls(), s.changed
		s.mu.Unlock()
		if ready(calls) {
			return calls, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return calls, fmt.Errorf("ccaisim: await calls: %w", ctx.Err())
		}
	}
}
