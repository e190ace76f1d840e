package cache

import (
	"context"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// A delete that fails leaves an old value in Redis until it is applied.
// The retry queue applies it, but seconds later (its first delays are 1 s
// and 2 s), and Redis may answer again long before: a failover, a blip.
// So the keys of every failed delete are also remembered here until a
// delete of them succeeds. Meanwhile this process reads none of them from
// Redis, and a flusher deletes them as soon as Redis answers again.

// maxUnsent bounds the keys remembered (about 100 bytes each); past it a
// key is left to the retry queue alone, with an error logged.
const maxUnsent = 100_000

type unsentDeletes struct {
	mu   sync.Mutex
	keys map[string]struct{}
	n    atomic.Int64 // len(keys), read without the lock on every read
}

func newUnsent() *unsentDeletes { return &unsentDeletes{keys: map[string]struct{}{}} }

// add remembers keys; it returns how many did not fit.
func (u *unsentDeletes) add(keys []string) (dropped int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, k := range keys {
		if len(u.keys) >= maxUnsent {
			dropped++
			continue
		}
		u.keys[k] = struct{}{}
	}
	u.n.Store(int64(len(u.keys)))
	return dropped
}

// has reports whether key's delete is still to be applied: Redis may hold
// its old value.
func (u *unsentDeletes) has(key string) bool {
	if u == nil || u.n.Load() == 0 {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	_, ok := u.keys[key]
	return ok
}

// sent forgets keys: a delete of them succeeded.
func (u *unsentDeletes) sent(keys []string) {
	if u == nil || u.n.Load() == 0 {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, k := range keys {
		delete(u.keys, k)
	}
	u.n.Store(int64(len(u.keys)))
}

// some returns up to limit remembered keys.
func (u *unsentDeletes) some(limit int) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]string, 0, min(limit, len(u.keys)))
	for k := range u.keys {
		if len(out) == limit {
			break
		}
		out = append(out, k)
	}
	return out
}

// remember notes the keys of a failed delete.
func (c *Redis) remember(keys []string) {
	if dropped := c.unsent.add(keys); dropped > 0 {
		c.log.Error("too many failed deletes to remember: these wait for the retry queue alone", zap.Int("keys", dropped))
	}
}

// flushUnsent deletes the remembered keys while Redis is up.
func (c *Redis) flushUnsent(ctx context.Context) {
	for c.unsent.n.Load() > 0 && c.usable() && ctx.Err() == nil {
		if err := c.Delete(ctx, c.unsent.some(1000)); err != nil {
			return // Redis is away again; Delete has noted it
		}
	}
}
