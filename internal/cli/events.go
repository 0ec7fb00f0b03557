package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/escalator-oss/escalator/internal/outcome"
)

// DefaultIdle is how long a stream may be silent before Follow drops it and
// reconnects: the worker sends a keep-alive every 15 s.
const DefaultIdle = 45 * time.Second

// Event is one Server-Sent Event of GET /v1/events: an outcome.
type Event struct {
	// ID is the outcome's sequence in the ESCALATIONS stream; resuming
	// after it misses nothing.
	ID uint64
	// Name is the outcome's event (dispatched, acknowledged …).
	Name string
	// Data is the outcome's JSON as the worker sent it.
	Data json.RawMessage
	// Outcome is Data decoded.
	Outcome outcome.Outcome
}

// FollowOptions are Follow's inputs.
type FollowOptions struct {
	// Escalation, when set, keeps one escalation's outcomes: its id, its
	// short code or an alert id.
	Escalation string
	// After, when not 0, starts after that event id (else: from now on).
	After uint64
	// Idle is how long a silent stream is kept (0: DefaultIdle).
	Idle time.Duration
	// Retry is the longest wait between two reconnections (0: 5 s).
	Retry time.Duration
	// Connected, when set, is called each time a stream is open: first is
	// true the first time; resumed says after which event it resumed.
	Connected func(first bool, resumed uint64)
	// Dropped, when set, is called when an open stream ends or a
	// reconnection fails, with why, each time the reason changes.
	Dropped func(err error)
}

// Follow calls fn with each outcome the worker publishes, until ctx ends
// (then it returns nil) or fn returns an error. When the connection drops,
// it reconnects with backoff and resumes after the last event it saw
// (Last-Event-ID): nothing is missed or repeated. It returns at once an
// error that retrying cannot mend: no worker at the first attempt
// (*UnreachableError), 401, 404 (an unknown escalation), 400.
func (c *Client) Follow(ctx context.Context, opt FollowOptions, fn func(Event) error) error {
	if opt.Idle <= 0 {
		opt.Idle = DefaultIdle
	}
	if opt.Retry <= 0 {
		opt.Retry = 5 * time.Second
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 250 * time.Millisecond
	b.MaxInterval = opt.Retry
	b.MaxElapsedTime = 0 // a tail follows until it is stopped
	b.Reset()
	after, opened, lastWhy := opt.After, false, ""
	for {
		connected := func() {
			if opt.Connected != nil {
				opt.Connected(!opened, after)
			}
			opened, lastWhy = true, ""
			b.Reset()
		}
		err := c.stream(ctx, opt, &after, connected, fn)
		if ctx.Err() != nil {
			return nil
		}
		var stop *fnError
		if errors.As(err, &stop) {
			return stop.err
		}
		if permanent(err) || !opened {
			return err
		}
		if why := err.Error(); why != lastWhy && opt.Dropped != nil {
			opt.Dropped(err)
			lastWhy = why
		}
		t := time.NewTimer(b.NextBackOff())
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// fnError is an error of Follow's fn, which ends Follow.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

// permanent reports whether err is an answer that reconnecting would get
// again.
func permanent(err error) bool {
	var ua *UnauthorizedError
	var nf *NotFoundError
	var br *BadRequestError
	var cf *ConflictError
	return errors.As(err, &ua) || errors.As(err, &nf) || errors.As(err, &br) || errors.As(err, &cf)
}

// errStreamEnded is why a stream the worker closed ended (it stops, or a
// proxy cut it).
var errStreamEnded = errors.New("the worker closed the event stream")

// stream opens one event stream after *after and reads it until it ends,
// advancing *after with each event.
func (c *Client) stream(ctx context.Context, opt FollowOptions, after *uint64, connected func(), fn func(Event) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	v := url.Values{}
	set(v, "escalation", opt.Escalation)
	req, err := c.request(ctx, http.MethodGet, "/v1/events", v, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if *after > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(*after, 10))
	}
	// The answer's headers, too, must come within Idle.
	idle := errors.New("no event nor keep-alive for " + opt.Idle.String())
	watchdog := time.AfterFunc(opt.Idle, func() { cancel(idle) })
	defer watchdog.Stop()
	resp, err := c.http.Do(req)
	if err != nil {
		if context.Cause(ctx) == idle {
			return &UnreachableError{Server: c.Server(), Cause: idle.Error()}
		}
		return c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		return c.answerError(resp, data)
	}
	connected()
	rd := bufio.NewReader(resp.Body)
	var ev Event
	var data strings.Builder
	for {
		watchdog.Reset(opt.Idle)
		line, err := rd.ReadString('\n')
		if err != nil {
			if context.Cause(ctx) == idle {
				return fmt.Errorf("the event stream went quiet: %s", idle)
			}
			if errors.Is(err, io.EOF) {
				return errStreamEnded
			}
			return fmt.Errorf("read the event stream: %s", cause(err))
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			// A blank line ends an event. One with only an id moves the
			// resume point without an outcome.
			if ev.ID > 0 {
				*after = ev.ID
			}
			if data.Len() > 0 {
				ev.Data = json.RawMessage(data.String())
				if json.Unmarshal(ev.Data, &ev.Outcome) == nil {
					if err := fn(ev); err != nil {
						return &fnError{err}
					}
				}
			}
			ev = Event{}
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // a comment: the greeting, a keep-alive
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			if n, err := strconv.ParseUint(value, 10, 64); err == nil {
				ev.ID = n
			}
		case "event":
			ev.Name = value
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
}
