package cache

import (
	"context"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Every write with Redis records its stale keys in its own transaction
// (model's outbox). The row is cleared once the keys are deleted; what a
// crash or a failed delete leaves behind is deleted by the sweep: at start,
// every row; then, while Redis answers, every row older than SweepAge.
// Deleting is idempotent, so every instance sweeps and none needs to own
// a row.

// maxCleared bounds the ids waiting to be cleared while the database does
// not answer; past it a row is left to the sweep, which deletes its keys
// once more.
const maxCleared = 100_000

// sweepBatch is how many outbox rows one delete takes.
const sweepBatch = 500

type outbox struct {
	mu  sync.Mutex
	ids []int64 // rows whose keys are deleted, to be removed
}

// cleared notes that row id's keys are deleted.
func (o *outbox) cleared(id int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.ids) < maxCleared {
		o.ids = append(o.ids, id)
	}
}

func (o *outbox) take() []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	ids := o.ids
	o.ids = nil
	return ids
}

// keep puts back ids the database did not remove.
func (o *outbox) keep(ids []int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	room := max(0, maxCleared-len(o.ids))
	o.ids = append(o.ids, ids[:min(room, len(ids))]...)
}

// tend applies what is left of invalidations until ctx ends: every
// FlushEvery the failed deletes (unsent.go) and the removal of cleared
// outbox rows, and every SweepEvery the sweep, the first time at once and
// whatever the rows' age.
func (c *Redis) tend(ctx context.Context) {
	tick := time.NewTicker(c.opt.FlushEvery)
	defer tick.Stop()
	var swept time.Time // zero: not yet since start
	for {
		c.flushUnsent(ctx)
		if ids := c.outbox.take(); len(ids) > 0 {
			if err := c.db.ClearStale(ctx, ids); err != nil {
				c.outbox.keep(ids)
				c.log.Warn("outbox rows not cleared; retrying", zap.Int("rows", len(ids)), zap.Error(err))
			}
		}
		if time.Since(swept) >= c.opt.SweepEvery && c.usable() {
			before := time.Now()
			if !swept.IsZero() {
				before = before.Add(-c.opt.SweepAge)
			}
			if c.sweep(ctx, before) {
				swept = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sweep deletes the keys of every outbox row written before t and removes
// the rows; it reports whether it got through them all.
func (c *Redis) sweep(ctx context.Context, t time.Time) bool {
	total := 0
	defer func() {
		if total > 0 {
			c.log.Warn("deleted stale keys left in the outbox by a crash or a failed delete", zap.Int("rows", total))
		}
	}()
	for ctx.Err() == nil {
		rows, err := c.db.StaleBefore(ctx, t.UnixMilli(), sweepBatch)
		if err != nil {
			c.log.Warn("outbox not swept", zap.Error(err))
			return false
		}
		if len(rows) == 0 {
			return true
		}
		var keys []string
		ids := make([]int64, 0, len(rows))
		for _, r := range rows {
			keys = append(keys, r.Keys...)
			ids = append(ids, r.ID)
		}
		if len(keys) > 0 {
			c.near.drop(keys...)
			if err := c.Delete(ctx, uniqueKeys(keys)); err != nil {
				return false // Redis is away again; the next sweep retries
			}
		}
		if err := c.db.ClearStale(ctx, ids); err != nil {
			c.log.Warn("outbox rows not cleared", zap.Error(err))
			return false
		}
		total += len(rows)
		if len(rows) < sweepBatch {
			return true
		}
	}
	return false
}

// uniqueKeys sorts keys and names each once.
func uniqueKeys(keys []string) []string {
	slices.Sort(keys)
	return slices.Compact(keys)
}
