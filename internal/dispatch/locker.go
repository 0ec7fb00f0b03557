package dispatch

import (
	"context"
	"sync"
)

// Locker serialises critical sections that change provider-side shared
// state, such as an IoTCall rule's number list.
type Locker interface {
	// Lock blocks until the lock on key is held or ctx ends. On success it
	// returns unlock, which releases the lock and is safe to call twice; on
	// failure (ctx ended, lock store unreachable) it returns an error and no
	// lock is held.
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// TryLocker is a Locker that can also take a lock without waiting, found
// by type assertion. A caller with several interchangeable keys (an IoTCall
// pool of rules) uses it to find a free one.
type TryLocker interface {
	// TryLock takes the lock on key if it is free now. ok is false when
	// another holder has it, or when a waiter of this process queues for
	// it (a try never jumps ahead of a waiter); then no lock is held and
	// unlock is nil. When ok, unlock releases the lock and is safe to call
	// twice. err is set when the lock store cannot tell (unreachable, ctx
	// ended); then ok is false.
	TryLock(ctx context.Context, key string) (unlock func(), ok bool, err error)
}

// LocalLocker is a Locker within one process: one mutex per key. It does
// not coordinate worker replicas (see package kvlock for that). It is also
// a TryLocker. Its zero value is ready to use.
type LocalLocker struct {
	mu    sync.Mutex
	locks map[string]*localLock
}

var _ TryLocker = (*LocalLocker)(nil)

type localLock struct {
	ch   chan struct{} // holds one token while locked
	refs int           // holders and waiters, so unused keys are dropped
}

// Lock implements Locker.
func (l *LocalLocker) Lock(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = make(map[string]*localLock)
	}
	k, ok := l.locks[key]
	if !ok {
		k = &localLock{ch: make(chan struct{}, 1)}
		l.locks[key] = k
	}
	k.refs++
	l.mu.Unlock()

	select {
	case k.ch <- struct{}{}:
	case <-ctx.Done():
		l.release(key, k)
		return nil, ctx.Err()
	}
	return l.unlocker(key, k), nil
}

// TryLock implements TryLocker: the key is busy while anyone holds it or
// waits for it in Lock.
func (l *LocalLocker) TryLock(ctx context.Context, key string) (func(), bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	l.mu.Lock()
	if l.locks == nil {
		l.locks = make(map[string]*localLock)
	}
	if _, held := l.locks[key]; held {
		// refs > 0: a holder, or a waiter that comes first.
		l.mu.Unlock()
		return nil, false, nil
	}
	k := &localLock{ch: make(chan struct{}, 1), refs: 1}
	k.ch <- struct{}{} // empty and ours alone: cannot block
	l.locks[key] = k
	l.mu.Unlock()
	return l.unlocker(key, k), true, nil
}

func (l *LocalLocker) unlocker(key string, k *localLock) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			<-k.ch
			l.release(key, k)
		})
	}
}

func (l *LocalLocker) release(key string, k *localLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k.refs--
	if k.refs == 0 {
		delete(l.locks, key)
	}
}
