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

// LocalLocker is a Locker within one process: one mutex per key. It does
// not coordinate worker replicas (see package kvlock for that). Its zero
// value is ready to use.
type LocalLocker struct {
	mu    sync.Mutex
	locks map[string]*localLock
}

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
	var once sync.Once
	return func() {
		once.Do(func() {
			<-k.ch
			l.release(key, k)
		})
	}, nil
}

func (l *LocalLocker) release(key string, k *localLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k.refs--
	if k.refs == 0 {
		delete(l.locks, key)
	}
}
