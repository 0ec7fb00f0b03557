package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
)

// The statuses a listing may ask for (Query.Status).
const (
	// ListActive: still calling people, or silenced and to call them when
	// the quiet ends.
	ListActive = "active"
	// ListAcknowledged: acknowledged (a re-page under ack_timeout may
	// come).
	ListAcknowledged = "acknowledged"
	// ListEnded: resolved or exhausted.
	ListEnded = "ended"
	// ListAll: every escalation the bucket holds.
	ListAll = "all"
)

// Listing bounds.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// Query is a listing's filter and page.
type Query struct {
	// Status is ListActive (""), ListAcknowledged, ListEnded or ListAll.
	Status string
	// Policy, when set, keeps the escalations of that policy.
	Policy string
	// Limit is the page's size (0: DefaultListLimit; at most MaxListLimit).
	Limit int
	// Cursor is a Page's NextCursor: the page after it.
	Cursor string
}

// Page is one page of a listing, newest first.
type Page struct {
	Escalations []Summary `json:"escalations"`
	// NextCursor, when not empty, asks for the next (older) page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ErrBadCursor is List's error for a cursor it did not make.
var ErrBadCursor = fmt.Errorf("the cursor is not one a listing gave")

// catalogFullEvery is how often the catalog reads every record; in between
// it reads the records written since it last looked.
const catalogFullEvery = 10 * time.Minute

// catalog is what a listing filters and orders on, for every escalation,
// in memory: brought up to date before each listing by reading the
// escalations bucket's records written since the last one (the stream's
// tail), and every catalogFullEvery by reading them all (as activeCount
// does). A listing reads no record it has already read: 100k ended
// escalations cost their entries' memory (about a hundred bytes each) and
// one full read every ten minutes, not a read of the bucket per call. The
// page's escalations are then read from their records, so what a listing
// shows is current.
type catalog struct {
	mu   sync.Mutex
	all  map[string]catEntry // by escalation key
	upTo uint64
	full time.Time
}

// catEntry is one escalation as the catalog keeps it.
type catEntry struct {
	ID        string
	Policy    string
	ShortCode string
	Status    policy.Status
	Started   time.Time
}

func (c catEntry) summary() Summary {
	return Summary{ID: c.ID, Policy: c.Policy, ShortCode: c.ShortCode, Status: c.Status, Started: c.Started}
}

// refresh brings c up to date.
func (c *catalog) refresh(ctx context.Context, e *Engine, now time.Time) error {
	from := c.upTo + 1
	if c.all == nil || now.Sub(c.full) >= catalogFullEvery {
		c.all, from = map[string]catEntry{}, 0
	}
	upTo, err := e.scan(ctx, "e.", from, func(r entry) {
		var esc Escalation
		if r.Deleted || json.Unmarshal(r.Data, &esc) != nil || esc.ID == "" {
			delete(c.all, r.Key)
			return
		}
		s := summarize(&esc)
		c.all[r.Key] = catEntry{ID: s.ID, Policy: s.Policy, ShortCode: s.ShortCode, Status: s.Status, Started: s.Started}
	})
	if err != nil {
		c.all = nil // start over with a full read
		return fmt.Errorf("list escalations: %w", err)
	}
	if from == 0 {
		c.full = now
	}
	c.upTo = upTo
	return nil
}

// List returns a page of the escalations q asks for, newest first.
func (e *Engine) List(ctx context.Context, q Query) (Page, error) {
	switch q.Status {
	case "":
		q.Status = ListActive
	case ListActive, ListAcknowledged, ListEnded, ListAll:
	default:
		return Page{}, fmt.Errorf("status must be %s, %s, %s or %s, got %q", ListActive, ListAcknowledged, ListEnded, ListAll, q.Status)
	}
	if q.Limit <= 0 {
		q.Limit = DefaultListLimit
	}
	q.Limit = min(q.Limit, MaxListLimit)
	after, err := decodeCursor(q.Cursor)
	if err != nil {
		return Page{}, err
	}
	e.cat.mu.Lock()
	if err := e.cat.refresh(ctx, e, e.clk.Now()); err != nil {
		e.cat.mu.Unlock()
		return Page{}, err
	}
	var out []Summary
	for _, c := range e.cat.all {
		if s := c.summary(); listed(s, q) && (after == nil || newer(*after, s)) {
			out = append(out, s)
		}
	}
	e.cat.mu.Unlock()
	slices.SortFunc(out, func(a, b Summary) int {
		switch {
		case newer(a, b):
			return -1
		case newer(b, a):
			return 1
		}
		return 0
	})
	page := Page{Escalations: out}
	if len(out) > q.Limit {
		page.Escalations = out[:q.Limit]
		page.NextCursor = encodeCursor(out[q.Limit-1])
	}
	full, err := e.summaries(ctx, page.Escalations)
	if err != nil {
		return Page{}, err
	}
	page.Escalations = full
	return page, nil
}

// pageReaders bounds the records a listing reads at once.
const pageReaders = 8

// summaries reads the records of a page's escalations and returns their
// summaries, in order; one gone or replaced since the catalog saw it is
// left out.
func (e *Engine) summaries(ctx context.Context, list []Summary) ([]Summary, error) {
	full := make([]*Summary, len(list))
	errs := make([]error, len(list))
	sem := make(chan struct{}, pageReaders)
	var wg sync.WaitGroup
	for i, s := range list {
		tok, _, _ := strings.Cut(s.ID, "-")
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			esc, _, err := e.st.load(ctx, escKey(tok))
			if err != nil {
				errs[i] = err
				return
			}
			if esc != nil && esc.ID == s.ID {
				sum := summarize(esc)
				full[i] = &sum
			}
		}()
	}
	wg.Wait()
	out := make([]Summary, 0, len(list))
	for i, s := range full {
		if errs[i] != nil {
			return nil, fmt.Errorf("list escalations: %w", errs[i])
		}
		if s != nil {
			out = append(out, *s)
		}
	}
	return out, nil
}

// listed says whether s is one q asks for.
func listed(s Summary, q Query) bool {
	if q.Policy != "" && s.Policy != q.Policy {
		return false
	}
	switch q.Status {
	case ListActive:
		return s.Status == policy.Active || s.Status == StatusSilenced
	case ListAcknowledged:
		return s.Status == policy.Acknowledged
	case ListEnded:
		return s.Status == policy.Resolved || s.Status == policy.Exhausted
	}
	return true
}

// newer orders the listing: started later first, then by id.
func newer(a, b Summary) bool {
	if !a.Started.Equal(b.Started) {
		return a.Started.After(b.Started)
	}
	return a.ID > b.ID
}

// A cursor is the last summary of a page: its start and id.
func encodeCursor(s Summary) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(s.Started.UnixNano(), 10) + " " + s.ID))
}

func decodeCursor(c string) (*Summary, error) {
	if c == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, ErrBadCursor
	}
	ns, id, ok := strings.Cut(string(b), " ")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" {
		return nil, ErrBadCursor
	}
	return &Summary{Started: time.Unix(0, n).UTC(), ID: id}, nil
}

// lastCalled is who the escalation's last placed step reached.
func lastCalled(esc *Escalation) []provider.Person {
	for i := len(esc.Calls) - 1; i >= 0; i-- {
		var reached []provider.Person
		for _, r := range esc.Calls[i].Results {
			reached = append(reached, r.Reached...)
		}
		if len(reached) > 0 {
			return reached
		}
	}
	return nil
}

// AmbiguousError is Lookup's error for a short code that several
// escalations share: their ids, newest first.
type AmbiguousError struct {
	Code string
	IDs  []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("short code %s names %d escalations: %s; use the id", e.Code, len(e.IDs), strings.Join(e.IDs, ", "))
}

// Lookup returns the id of the escalation ref names: an escalation id, a
// short code (of an escalation still open, or else of an ended one; an
// *AmbiguousError when several share it), or an alert id (the escalation
// that covers the alert now, or covered it last). ErrNotFound otherwise.
func (e *Engine) Lookup(ctx context.Context, ref string) (string, error) {
	if tok, _, ok := strings.Cut(ref, "-"); ok && len(tok) == tokenLen && isHex(tok) {
		return ref, nil
	}
	if len(ref) == 4 && isDigits(ref) {
		id, err := e.byShortCode(ctx, ref)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return id, err
		}
	}
	index, _, err := e.st.read(ctx, alertKey(ref))
	if err != nil {
		return "", err
	}
	if index == nil {
		return "", ErrNotFound
	}
	esc, _, err := e.st.load(ctx, string(index))
	if err != nil {
		return "", err
	}
	if esc == nil || (!slices.Contains(esc.Alerts, ref) && esc.AlertID != ref) {
		return "", ErrNotFound
	}
	return esc.ID, nil
}

// byShortCode finds the escalation with code among those still open, else
// among the ended ones.
func (e *Engine) byShortCode(ctx context.Context, code string) (string, error) {
	e.cat.mu.Lock()
	defer e.cat.mu.Unlock()
	if err := e.cat.refresh(ctx, e, e.clk.Now()); err != nil {
		return "", err
	}
	var open, ended []Summary
	for _, c := range e.cat.all {
		if c.ShortCode != code {
			continue
		}
		s := c.summary()
		if s.Status == policy.Resolved || s.Status == policy.Exhausted {
			ended = append(ended, s)
		} else {
			open = append(open, s)
		}
	}
	for _, set := range [][]Summary{open, ended} {
		switch len(set) {
		case 0:
			continue
		case 1:
			return set[0].ID, nil
		}
		slices.SortFunc(set, func(a, b Summary) int {
			if newer(a, b) {
				return -1
			}
			return 1
		})
		ids := make([]string, len(set))
		for i, s := range set {
			ids[i] = s.ID
		}
		return "", &AmbiguousError{Code: code, IDs: ids}
	}
	return "", ErrNotFound
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func isHex(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return s != ""
}
