package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/escalator-oss/escalator/internal/outcome"
)

// keepAlive is how often an idle event stream sends a comment line, so that
// proxies and clients see it alive.
const keepAlive = 15 * time.Second

// Follower follows the outcome stream (an *engine.Engine).
type Follower interface {
	// LastOutcome is the sequence of the last outcome stored.
	LastOutcome(ctx context.Context) (uint64, error)
	Follow(ctx context.Context, after uint64, escalation string, fn func(seq uint64, o outcome.Outcome) error) error
}

// events serves GET /v1/events: the outcomes as Server-Sent Events, each
// `id: <stream sequence>`, `event: <outcome event>`, `data: <outcome JSON>`.
// ?escalation= (an id, a short code or an alert id) keeps one
// escalation's; a client that reconnects with Last-Event-ID (or ?after=)
// gets what it missed, from the stream.
func (a *API) events(w http.ResponseWriter, r *http.Request) {
	var after uint64
	resume := false
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("after")
	}
	if last != "" {
		n, err := strconv.ParseUint(last, 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, problem{Error: fmt.Sprintf("after: must be an event id (a number), got %q", last), Field: "after"})
			return
		}
		after, resume = n, true
	}
	escalation := ""
	if ref := r.URL.Query().Get("escalation"); ref != "" {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		id, ok := a.lookup(ctx, w, ref)
		cancel()
		if !ok {
			return
		}
		escalation = id
	}
	if !resume {
		// From now: the stream's last outcome, told to the client as the
		// first id, so that one that loses the connection before any event
		// resumes from here and misses nothing.
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		n, err := a.cfg.Follower.LastOutcome(ctx)
		cancel()
		if err != nil {
			a.unavailable(w, "follow outcomes", err)
			return
		}
		after = n
	}
	rc := http.NewResponseController(w)
	// The server's write timeout is for requests, not for a stream.
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprintf(w, ": escalator outcomes\nid: %d\n\n", after)
	if err := rc.Flush(); err != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	out := make(chan []byte, 64)
	go func() {
		defer close(out)
		_ = a.cfg.Follower.Follow(ctx, after, escalation, func(seq uint64, o outcome.Outcome) error {
			data, _ := json.Marshal(o)
			msg := fmt.Appendf(nil, "id: %d\nevent: %s\ndata: %s\n\n", seq, o.Event, data)
			select {
			case out <- msg:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-out:
			if !ok {
				return // the follow ended (the worker stops): the client reconnects
			}
			if _, err := w.Write(msg); err != nil {
				return
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
