package iotcall

import (
	"context"
	"hash/fnv"
	"strings"

	"go.uber.org/zap"

	"github.com/escalator-oss/escalator/internal/dispatch"
)

// lockRule takes the lock of one rule of pool and returns that rule. With
// a pool of two or more rules and a locker that can try (a
// dispatch.TryLocker), it takes the first rule that is free, in order (see
// poolOrder); when every one is busy, or the locker cannot try, it waits
// for the first rule in order. It never holds two rule locks at once.
func (c *Client) lockRule(ctx context.Context, pool []string, escalationID string) (string, func(), error) {
	order := poolOrder(pool, escalationID)
	if tl, ok := c.locker.(dispatch.TryLocker); ok && len(order) > 1 {
		for _, rule := range order {
			unlock, ok, err := tl.TryLock(ctx, LockKey(rule))
			if err != nil {
				return rule, nil, err
			}
			if ok {
				return rule, unlock, nil
			}
		}
		c.log.Debug("every rule of the pool is busy; waiting for one", zap.Strings("rules", order),
			zap.String("escalation_id", escalationID))
	}
	unlock, err := c.locker.Lock(ctx, LockKey(order[0]))
	return order[0], unlock, err
}

// poolOrder is the order in which a call tries the rules of pool: from a
// position derived from the escalation id, round the pool. Concurrent
// escalations thus start on different rules (spreading the load), and the
// retries of one escalation's call start where it did.
func poolOrder(pool []string, escalationID string) []string {
	if len(pool) < 2 {
		return pool
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(escalationID))
	start := int(h.Sum32() % uint32(len(pool)))
	return append(append([]string(nil), pool[start:]...), pool[:start]...)
}

// poolName names the rules of a step for errors: "rule r1", or "rules r1,
// r2" for a pool.
func poolName(pool []string) string {
	if len(pool) == 1 {
		return "rule " + pool[0]
	}
	return "rules " + strings.Join(pool, ", ")
}
