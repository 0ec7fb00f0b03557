package phone

import "sync"

// memoSize bounds a Memo: past it, it starts again empty.
const memoSize = 1 << 14

// Memo remembers what a function of a number returned, for numbers met
// again: policy check asks about every number of every step, shared rosters
// put the same people in many steps, and parsing a number costs tens of
// microseconds. Bounded; safe for concurrent use.
type Memo[T any] struct {
	f  func(e164 string) (T, error)
	mu sync.Mutex
	m  map[string]memoEntry[T]
}

type memoEntry[T any] struct {
	v   T
	err error
}

// NewMemo returns a Memo of f.
func NewMemo[T any](f func(e164 string) (T, error)) *Memo[T] {
	return &Memo[T]{f: f, m: map[string]memoEntry[T]{}}
}

// Get returns f(e164), computed once while remembered.
func (c *Memo[T]) Get(e164 string) (T, error) {
	c.mu.Lock()
	got, ok := c.m[e164]
	c.mu.Unlock()
	if ok {
		return got.v, got.err
	}
	got.v, got.err = c.f(e164)
	c.mu.Lock()
	if len(c.m) >= memoSize {
		clear(c.m)
	}
	c.m[e164] = got
	c.mu.Unlock()
	return got.v, got.err
}
