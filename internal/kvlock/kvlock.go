// Package kvlock is a dispatch.Locker shared by every worker replica, kept
// in a JetStream key-value bucket. A lock is a key created with a per-key
// TTL, so a holder that crashes cannot block the key for longer than the TTL.
package kvlock

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/natsx"
)

// Defaults.
const (
	// DefaultTTL is how long a lock lives when its holder does not release
	// it. It must exceed the longest critical section (IoTCall: a PUT and a
	// POST, each bounded by the dispatcher's request timeout).
	DefaultTTL = 30 * time.Second
	// DefaultRetry is how often a waiter tries again even without news from
	// its watch of the key.
	DefaultRetry = 250 * time.Millisecond
)

// Config configures a Locker.
type Config struct {
	// Bucket is the KV bucket's name, e.g. "escalator_locks". Required.
	Bucket string
	// TTL of a lock (0: DefaultTTL; at least 1s, the server's minimum).
	TTL time.Duration
	// Retry is the waiters' polling interval (0: DefaultRetry).
	Retry time.Duration
	// Replicas of the bucket (0: 1). On a cluster, give it the replicas of
	// the other streams and buckets: an R1 bucket on a node that dies leaves
	// every worker unable to lock, so every IoTCall call fails.
	Replicas int
	// Logger (nil: no logging).
	Logger *zap.Logger
}

// Locker implements dispatch.Locker on a JetStream KV bucket.
type Locker struct {
	kv     jetstream.KeyValue
	js     jetstream.JetStream
	bucket string
	ttl    time.Duration
	retry  time.Duration
	log    *zap.Logger

	// local holds each key's state in this process: its goroutines queue
	// there, and only the one at the head competes for the key in the
	// bucket. Without it, every waiter watches the key and all race to
	// create it on each release (measured: a few hundred IoTCall calls a
	// second through one rule instead of about a thousand).
	local sync.Map // key → *local
}

var (
	_ dispatch.Locker    = (*Locker)(nil)
	_ dispatch.TryLocker = (*Locker)(nil)
)

// New creates or updates the bucket (History 1, LimitMarkerTTL = TTL, which
// per-key TTLs need) and returns a Locker on it.
func New(ctx context.Context, js jetstream.JetStream, cfg Config) (*Locker, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("create kv locker: bucket name is required")
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.TTL < time.Second {
		return nil, fmt.Errorf("create kv locker: TTL %s is under the server's minimum of 1s", cfg.TTL)
	}
	if cfg.Retry <= 0 {
		cfg.Retry = DefaultRetry
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         cfg.Bucket,
		Description:    "escalator: locks on provider-side shared state (e.g. IoTCall rule keys)",
		History:        1,
		LimitMarkerTTL: cfg.TTL,
		Replicas:       cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("create kv locker bucket %s: %w", cfg.Bucket, err)
	}
	return &Locker{kv: kv, js: js, bucket: cfg.Bucket, ttl: cfg.TTL, retry: cfg.Retry,
		log: cfg.Logger.With(zap.String("component", "kvlock"))}, nil
}

// Lock implements dispatch.Locker: it queues behind this process's other
// holders and waiters of key, then creates the key (which fails while
// another holder has it) and, while it is held, waits for it to be deleted
// or to expire, until ctx ends. unlock deletes the key only if it is still
// ours (same revision): after an expiry someone else may hold it.
func (l *Locker) Lock(ctx context.Context, key string) (func(), error) {
	v, _ := l.local.LoadOrStore(key, &local{slot: make(chan struct{}, 1)})
	ks := v.(*local)
	ks.waiting.Add(1)
	select {
	case ks.slot <- struct{}{}:
		ks.waiting.Add(-1)
	case <-ctx.Done():
		if ks.waiting.Add(-1) == 0 {
			// A holder may have handed the shared lock on to the waiters,
			// this one the last: release it rather than leave it to its TTL.
			select {
			case ks.slot <- struct{}{}:
				ks.releaseShared()
				<-ks.slot
			default: // someone holds the slot, and releases or hands on
			}
		}
		return nil, fmt.Errorf("lock %s: %w", key, ctx.Err())
	}
	if ks.shared == nil {
		unlock, err := l.lockShared(ctx, key, ks)
		if err != nil {
			<-ks.slot
			return nil, err
		}
		ks.shared, ks.since, ks.handoffs = unlock, time.Now(), 0
	}
	return l.slotUnlocker(ks), nil
}

// TryLock implements dispatch.TryLocker: the key is busy while a goroutine
// of this process holds it or queues for it in Lock (a try never jumps
// ahead of them), or when another process holds it in the bucket (one
// create, which fails while the key exists). It never waits for the key.
func (l *Locker) TryLock(ctx context.Context, key string) (func(), bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", key, err)
	}
	v, _ := l.local.LoadOrStore(key, &local{slot: make(chan struct{}, 1)})
	ks := v.(*local)
	if ks.waiting.Load() > 0 {
		return nil, false, nil
	}
	select {
	case ks.slot <- struct{}{}:
	default:
		return nil, false, nil
	}
	if ks.shared == nil {
		// (A holder may have handed the shared lock on to a waiter that
		// gave up since: then it is still ours, and used as it is.)
		rev, err := l.create(ctx, encodeKey(key), ks)
		if err != nil {
			<-ks.slot
			if natsx.Conflict(err) {
				return nil, false, nil
			}
			return nil, false, fmt.Errorf("lock %s: %w", key, err)
		}
		ks.shared, ks.since, ks.handoffs = l.unlocker(key, encodeKey(key), rev, ks), time.Now(), 0
	}
	return l.slotUnlocker(ks), true, nil
}

// slotUnlocker returns the unlock of this process's holder of ks.
func (l *Locker) slotUnlocker(ks *local) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			// Another goroutine of this process waits: hand it the shared
			// lock as it is, saving a release and a create (two round
			// trips per call under load), while the lock is young enough
			// to outlive the next holder's work, and not so often that
			// other processes wait long.
			if ks.waiting.Load() > 0 && time.Since(ks.since) < l.ttl/6 && ks.handoffs < maxHandoffs {
				ks.handoffs++
				<-ks.slot
				// The last waiter may have given up meanwhile, finding the
				// slot still held and leaving the release to us: if no one
				// waits now and the slot is free, nobody will take the
				// shared lock over; release it rather than leave it held to
				// its TTL. (A waiter that got the slot holds it: the try
				// fails, and it releases or hands on in its turn.)
				if ks.waiting.Load() == 0 {
					select {
					case ks.slot <- struct{}{}:
						ks.releaseShared()
						<-ks.slot
					default:
					}
				}
				return
			}
			ks.releaseShared()
			<-ks.slot
		})
	}
}

// maxHandoffs bounds how many times in a row a process passes a held lock
// from one of its goroutines to the next before releasing it to others.
const maxHandoffs = 32

// local is one key's state in this process. shared, since and handoffs are
// guarded by holding slot.
type local struct {
	slot    chan struct{} // one slot: this process's holder
	waiting atomic.Int32  // goroutines queued for slot
	// shared releases the lock in the bucket, while this process has it.
	shared   func()
	since    time.Time
	handoffs int
	// released is the sequence of the purge marker this process's last
	// release of the key left (0: none known), guarded by slot too.
	released uint64
}

func (ks *local) releaseShared() {
	if ks.shared != nil {
		ks.shared()
		ks.shared = nil
	}
}

// lockShared takes key in the bucket, across processes.
func (l *Locker) lockShared(ctx context.Context, key string, ks *local) (func(), error) {
	k := encodeKey(key)
	var w jetstream.KeyWatcher
	defer func() {
		if w != nil {
			_ = w.Stop()
		}
	}()
	t := time.NewTimer(l.retry)
	defer t.Stop()
	for {
		rev, err := l.create(ctx, k, ks)
		if err == nil {
			return l.unlocker(key, k, rev, ks), nil
		}
		// A create that lost its race means the key is held: wait. (nats.go's
		// Create, finding the key deleted, retries on the delete's revision
		// and returns the server's error unwrapped when another holder
		// created it in between: natsx.Conflict knows both codes.)
		if !natsx.Conflict(err) {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("lock %s: %w", key, ctx.Err())
			}
			return nil, fmt.Errorf("lock %s: %w", key, err)
		}
		if w == nil {
			// Watch from now on, then try again at once: a release between
			// the failed create and the watch's start is not missed.
			if w, err = l.kv.Watch(ctx, k, jetstream.UpdatesOnly()); err != nil {
				return nil, fmt.Errorf("lock %s: watch: %w", key, err)
			}
			continue
		}
		t.Reset(l.retry)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock %s: %w", key, ctx.Err())
		case <-w.Updates():
		case <-t.C:
		}
	}
}

// create takes k in the bucket with a fresh owner id and the lock's TTL:
// the key must not exist (or be deleted). When this process released it
// last and knows the purge marker that left, it takes the key on that
// marker's sequence: one round trip. (KeyValue.Create first writes at
// revision 0, which a marker fails, then reads the key to find it: three.)
// Anyone else's write since fails that, and Create decides as usual.
// ks's slot is held.
func (l *Locker) create(ctx context.Context, k string, ks *local) (uint64, error) {
	owner := []byte(nuid.Next())
	if seq := ks.released; seq != 0 {
		ks.released = 0
		ack, err := l.js.PublishMsg(ctx, &nats.Msg{Subject: natsx.KVSubject(l.bucket, k), Data: owner},
			jetstream.WithExpectLastSequencePerSubject(seq), jetstream.WithMsgTTL(l.ttl))
		if err == nil {
			return ack.Sequence, nil
		}
		if !natsx.Conflict(err) {
			return 0, err
		}
	}
	return l.kv.Create(ctx, k, owner, jetstream.KeyTTL(l.ttl))
}

// kvOperation is the KV protocol's header naming a delete or a purge
// (nats.go keeps its name unexported).
const kvOperation = "KV-Operation"

func (l *Locker) unlocker(key, k string, rev uint64, ks *local) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			// A fresh context: the caller's may be over, and the lock must
			// still be released.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// KeyValue.Purge, published here to learn the marker's
			// sequence (create takes the key on it next time): a purge
			// marker (rolling up the key's history) that expires with the
			// lock's TTL, only if the key is still at our revision.
			m := nats.NewMsg(natsx.KVSubject(l.bucket, k))
			m.Header.Set(kvOperation, "PURGE")
			m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
			ack, err := l.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(l.ttl))
			if err != nil {
				l.log.Warn("lock not released (expired and taken by another holder, or unreachable)",
					zap.String("key", key), zap.Error(err))
				return
			}
			ks.released = ack.Sequence
		})
	}
}

var validKey = regexp.MustCompile(`^[-_=.a-zA-Z0-9]+$`)

// encodeKey keeps keys that are valid KV keys (no "/" or wildcards) and
// hex-encodes the others.
func encodeKey(key string) string {
	if validKey.MatchString(key) && key[0] != '.' && key[len(key)-1] != '.' {
		return key
	}
	return "x_" + hex.EncodeToString([]byte(key))
}
