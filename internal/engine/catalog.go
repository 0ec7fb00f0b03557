package engine

import (
	"container/heap"
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

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
	"go.uber.org/zap"
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

// catalogFullEvery is how often the catalog reads every record again (in
// the background: RunCatalog); in between it reads the records written
// since it last looked.
const catalogFullEvery = 10 * time.Minute

// catalog is what a listing filters and orders on, for every escalation,
// in memory: built by reading every record once, then brought up to date
// before each listing by reading the records written since (the bucket
// stream's tail; nothing when nothing was written), and rebuilt in the
// background every catalogFullEvery (a sweep purges records without a
// marker in the tail). A listing reads no record it has already read: 100k
// ended escalations cost their entries' memory (about a hundred bytes
// each), not a read of the bucket per call. The page's escalations are then
// read from their records, so what a listing shows is current.
type catalog struct {
	// reading serializes the reads of the bucket (a build, a refresh).
	reading sync.Mutex
	// mu guards all and upTo.
	mu   sync.Mutex
	all  map[string]*catEntry // by escalation key; nil: not built yet
	upTo uint64
}

// catEntry is one escalation as the catalog keeps it.
type catEntry struct {
	ID        string
	Policy    string
	ShortCode string
	Status    policy.Status
	Started   time.Time
}

func (c *catEntry) summary() Summary {
	return Summary{ID: c.ID, Policy: c.Policy, ShortCode: c.ShortCode, Status: c.Status, Started: c.Started}
}

// catRecord is what the catalog reads of a record: not the policy
// snapshot, its calls or its outbox, which it skips.
type catRecord struct {
	ID     string `json:"id"`
	Policy struct {
		Name string `json:"name"`
	} `json:"policy"`
	State struct {
		Status policy.Status `json:"status"`
	} `json:"state"`
	Quiet     json.RawMessage `json:"quiet"`
	CreatedAt time.Time       `json:"created_at"`
}

// read decodes what the catalog keeps of a record; nil for one it cannot use.
func readEntry(r entry) *catEntry {
	var rec catRecord
	if r.Deleted || json.Unmarshal(r.Data, &rec) != nil || rec.ID == "" {
		return nil
	}
	c := &catEntry{ID: rec.ID, Policy: rec.Policy.Name, ShortCode: ShortCode(rec.ID), Status: rec.State.Status, Started: rec.CreatedAt}
	if len(rec.Quiet) > 0 && string(rec.Quiet) != "null" {
		c.Status = StatusSilenced
	}
	return c
}

// build reads every record into a new catalog and puts it in place; again
// says whether to when there is one already (a build that ran while this
// one waited for its turn, say).
func (c *catalog) build(ctx context.Context, e *Engine, again bool) error {
	c.reading.Lock()
	defer c.reading.Unlock()
	c.mu.Lock()
	built := c.all != nil
	c.mu.Unlock()
	if built && !again {
		return nil
	}
	last := c.lastWritten(ctx, e)
	all := map[string]*catEntry{}
	upTo, err := e.scan(ctx, "e.", 0, func(r entry) {
		if en := readEntry(r); en != nil {
			all[r.Key] = en
		} else {
			delete(all, r.Key)
		}
	})
	if err != nil {
		return fmt.Errorf("list escalations: %w", err)
	}
	c.mu.Lock()
	c.all, c.upTo = all, max(upTo, last)
	c.mu.Unlock()
	return nil
}

// lastWritten is the sequence of the last message in the bucket's stream
// (0 if it cannot be read). A scan that starts after it was read reads
// every record up to it, so a catalog that scanned is up to date to there:
// the bucket's alert index entries (a.*) written after the last record do
// not make the next listing read the stream's tail again.
func (c *catalog) lastWritten(ctx context.Context, e *Engine) uint64 {
	// Looking the stream up fetches its info: one request.
	s, err := e.js.Stream(ctx, natsx.KVStream(natsx.BucketEscalations))
	if err != nil {
		return 0
	}
	return s.CachedInfo().State.LastSeq
}

// refresh brings c up to date: it builds it when it is not yet, then reads
// the records written since it last looked (none: one look at the
// stream's last sequence). A read that fails leaves c as it was.
func (c *catalog) refresh(ctx context.Context, e *Engine) error {
	c.mu.Lock()
	built := c.all != nil
	c.mu.Unlock()
	if !built {
		// (Another build, the background one at start, may be the one
		// that completes it, having looked before the records this
		// listing must see: the tail is read below all the same.)
		if err := c.build(ctx, e, false); err != nil {
			return err
		}
	}
	c.mu.Lock()
	from := c.upTo + 1
	c.mu.Unlock()
	last := c.lastWritten(ctx, e)
	if last != 0 && last < from {
		return nil // nothing written since
	}
	c.reading.Lock()
	defer c.reading.Unlock()
	c.mu.Lock()
	from = c.upTo + 1 // a build may have run meanwhile
	c.mu.Unlock()
	if last != 0 && last < from {
		return nil
	}
	changed := map[string]*catEntry{}
	var upTo uint64
	var err error
	read := false
	if last != 0 && last-from < tailBySequence {
		upTo, read, err = c.readSeqs(ctx, e, from, last, func(r entry) { changed[r.Key] = readEntry(r) })
	}
	if err == nil && !read {
		clear(changed)
		upTo, err = e.scan(ctx, "e.", from, func(r entry) { changed[r.Key] = readEntry(r) })
	}
	if err != nil {
		return fmt.Errorf("list escalations: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, en := range changed {
		if en == nil {
			delete(c.all, k)
		} else {
			c.all[k] = en
		}
	}
	c.upTo = max(c.upTo, upTo, last)
	return nil
}

// tailBySequence is the most messages a refresh reads one by one; past it,
// it reads them with a consumer (whose creation costs the server a count of
// what is pending across every key: tens of milliseconds at 100k records).
const tailBySequence = 32

// readSeqs reads the bucket's messages from sequence from on, one at a
// time, from the stream's leader, and calls fn with the records among
// them, until it has read to the stream's end as the stream says after
// the read (a record rewritten meanwhile is gone from its old sequence and
// found at its new one, past last). It returns the sequence it read to, or
// false when more than 2×tailBySequence came (the caller scans instead).
func (c *catalog) readSeqs(ctx context.Context, e *Engine, from, last uint64, fn func(entry)) (uint64, bool, error) {
	for seq := from; ; {
		for ; seq <= last; seq++ {
			if seq-from >= 2*tailBySequence {
				return 0, false, nil
			}
			m, err := e.st.leader.Seq(ctx, seq)
			if err != nil {
				return 0, false, err
			}
			if m == nil || !strings.HasPrefix(m.Key, "e.") {
				continue // removed from the stream (rewritten since, or deleted), or not a record
			}
			fn(entry{Key: m.Key, Data: m.Data, Deleted: m.Deleted, Rev: m.Seq, At: m.At})
		}
		now := c.lastWritten(ctx, e)
		if now == 0 {
			return 0, false, fmt.Errorf("read the bucket's last sequence")
		}
		if now <= last {
			return last, true, nil
		}
		last = now
	}
}

// RunCatalog builds the listings' catalog now, in the background of a
// worker that serves the API (so that its first listing does not wait for
// it), and rebuilds it every catalogFullEvery until ctx ends.
func (e *Engine) RunCatalog(ctx context.Context) {
	for {
		if err := e.cat.build(ctx, e, true); err != nil && ctx.Err() == nil {
			e.log.Warn("build the escalations' catalog (listings build it when they need it)", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-e.clk.After(catalogFullEvery):
		}
	}
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
	if err := e.cat.refresh(ctx, e); err != nil {
		return Page{}, err
	}
	// The newest Limit+1 of those asked for, kept in a heap (the oldest on
	// top): no sort of every match.
	top := &newestHeap{}
	e.cat.mu.Lock()
	for _, c := range e.cat.all {
		s := c.summary()
		if !listed(s, q) || (after != nil && !newer(*after, s)) {
			continue
		}
		if top.Len() <= q.Limit {
			heap.Push(top, s)
		} else if newer(s, (*top)[0]) {
			(*top)[0] = s
			heap.Fix(top, 0)
		}
	}
	e.cat.mu.Unlock()
	out := make([]Summary, top.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(top).(Summary)
	}
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

// newestHeap is a min-heap of summaries by newer: the oldest on top.
type newestHeap []Summary

func (h newestHeap) Len() int           { return len(h) }
func (h newestHeap) Less(i, j int) bool { return newer(h[j], h[i]) }
func (h newestHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *newestHeap) Push(x any)        { *h = append(*h, x.(Summary)) }
func (h *newestHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
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
	if err := e.cat.refresh(ctx, e); err != nil {
		return "", err
	}
	e.cat.mu.Lock()
	defer e.cat.mu.Unlock()
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
