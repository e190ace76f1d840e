package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/redisguard"
)

// Record is called inside the transaction tx that makes keys stale. With
// Redis, whose values outlive this process, it writes them to the outbox
// in tx, so that a crash right after the commit cannot leave them cached;
// without Redis nothing cached outlives the process, and nothing is written.
func (c *Redis) Record(ctx context.Context, tx *model.Store, keys []string) (model.Stale, error) {
	// Each key once, however many changes of a batch name it (a hot video
	// or author is in many).
	keys = uniqueKeys(keys)
	if c.rdb == nil {
		return model.Stale{Keys: keys}, nil
	}
	return tx.RecordStale(ctx, keys)
}

// Invalidate deletes what a committed transaction recorded, and clears its
// outbox row once Redis no longer holds the keys. A row whose delete
// failed stays for the sweep (outbox.go).
func (c *Redis) Invalidate(ctx context.Context, st model.Stale) {
	if c.invalidate(ctx, st.Keys) && st.ID != 0 {
		c.outbox.cleared(st.ID)
	}
}

// invalidate deletes keys now and again after SecondDelete: a reader that
// loaded the old row before the commit may write it back just after the
// first delete, and the second one removes it. A delete that fails goes to
// the retrier. It reports whether the first delete reached Redis.
func (c *Redis) invalidate(ctx context.Context, keys []string) bool {
	c.near.drop(keys...) // at once: the writer's next read must not see the old value
	if c.rdb == nil {
		return true
	}
	// The request may end right after this; the deletes must not.
	ctx = context.WithoutCancel(ctx)
	deleted := c.deleteOrRetry(ctx, keys)
	// Again, now that Redis has lost the old values.
	c.near.drop(keys...)
	if c.closed.Load() {
		return deleted
	}
	c.pending.Add(1)
	time.AfterFunc(c.opt.SecondDelete, func() {
		defer c.pending.Done()
		c.near.drop(keys...)
		c.deleteOrRetry(ctx, keys)
	})
	return deleted
}

// deleteOrRetry deletes keys, or hands them to the retrier; it reports
// whether they were deleted.
func (c *Redis) deleteOrRetry(ctx context.Context, keys []string) bool {
	err := errRedisCoolingDown
	if c.usable() {
		err = c.Delete(ctx, keys)
	}
	if err == nil {
		return true
	}
	c.remember(keys)
	c.m.deleteRetries.Inc()
	body, merr := json.Marshal(keys)
	if merr != nil {
		c.log.Error("encode keys to retry", zap.Error(merr))
		return false
	}
	// Handed on without waiting: a broker slow to confirm, or silent,
	// must not hold the request that wrote.
	if perr := c.retrier.Enqueue(ctx, body); perr != nil {
		// Nothing more can be done here; the TTL bounds the staleness.
		c.m.deleteLost.Inc()
		c.log.Error("cache delete lost: retry queue refused it", zap.Strings("keys", keys), zap.Error(perr), zap.NamedError("delete_error", err))
	}
	return false
}

var errRedisCoolingDown = errors.New("redis cooling down after an error")

// Delete removes keys and their leases, one DEL each in a pipeline so
// that it also works on Redis Cluster, where one DEL may not span hash
// slots (a key and its lease share one), and publishes them
// to every instance's in-process layer in the same round trip.
func (c *Redis) Delete(ctx context.Context, keys []string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	msg, err := json.Marshal(keys)
	if err != nil {
		return fmt.Errorf("encode keys: %w", err)
	}
	pipe := c.rdb.Pipeline()
	for _, k := range keys {
		pipe.Del(ctx, k, leaseKey(k)) // one slot: a fill under an older lease is refused
	}
	pipe.Publish(ctx, c.k.channel(), msg)
	if _, err := pipe.Exec(ctx); err != nil {
		c.failed(err)
		return fmt.Errorf("delete %d keys: %w", len(keys), err)
	}
	c.m.deletes.Add(float64(len(keys)))
	c.unsent.sent(keys)
	return nil
}

// HandleRetry is the retrier's handler: it deletes the keys of one failed
// delete and returns an error to be retried later. Deleting is idempotent,
// so a message delivered twice does no harm.
func (c *Redis) HandleRetry(ctx context.Context, body []byte) error {
	var keys []string
	if err := json.Unmarshal(body, &keys); err != nil {
		// Retrying cannot fix a malformed message; drop it loudly.
		c.log.Error("malformed cache retry message dropped", zap.ByteString("body", body), zap.Error(err))
		return nil
	}
	if err := c.Delete(ctx, keys); err != nil {
		if errors.Is(err, redisguard.ErrDown) || redisguard.Unreachable(err) {
			return redisAway{err}
		}
		return err
	}
	return nil
}

// redisAway is a retried delete that failed because Redis did not answer:
// not the delete's fault, so the retrier does not count it towards parking
// (mq.Unavailable). Parking is for deletes that fail with Redis up.
type redisAway struct{ error }

func (e redisAway) Unwrap() error   { return e.error }
func (redisAway) Unavailable() bool { return true }

// Close waits for the scheduled second deletes (bounded by ctx) so that
// none is lost at shutdown; later invalidations only delete once.
func (c *Redis) Close(ctx context.Context) error {
	c.closed.Store(true)
	done := make(chan struct{})
	go func() { c.pending.Wait(); close(done) }()
	defer func() {
		c.stop()
		c.tasks.Wait()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cache: second deletes still pending: %w", ctx.Err())
	}
}
