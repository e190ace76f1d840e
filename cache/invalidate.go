package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/redisguard"
)

// The services tell the cache what a commit changed; these methods know
// which keys that makes stale.

// UserCreated drops the "absent" marker a probe may have left for the id.
func (c *Cache) UserCreated(ctx context.Context, userID int64) {
	c.invalidate(ctx, c.k.user(userID))
}

// VideoPublished drops the timeline, the author's list and counters, and
// any "absent" marker for the new id.
func (c *Cache) VideoPublished(ctx context.Context, v *model.Video) {
	c.invalidate(ctx, c.k.video(v.ID), c.k.timeline(), c.k.published(v.AuthorID), c.k.user(v.AuthorID))
}

// LikesChanged drops, for each like or unlike, the video's and both
// users' counters and the liker's lists and membership set: one delete for
// a whole batch of changes.
func (c *Cache) LikesChanged(ctx context.Context, changes []model.LikeChange) {
	keys := make([]string, 0, 5*len(changes))
	for _, ch := range changes {
		keys = append(keys, c.k.video(ch.Video.ID), c.k.user(ch.UserID), c.k.user(ch.Video.AuthorID),
			c.k.likes(ch.UserID), c.k.favorites(ch.UserID))
	}
	c.invalidate(ctx, keys...)
}

// CommentsChanged drops the video's comment list and count.
func (c *Cache) CommentsChanged(ctx context.Context, videoID int64) {
	c.invalidate(ctx, c.k.comments(videoID), c.k.video(videoID))
}

// FollowsChanged drops, for each follow or unfollow, both users' counters,
// lists and membership: one delete for a whole batch of changes.
func (c *Cache) FollowsChanged(ctx context.Context, changes []model.FollowChange) {
	keys := make([]string, 0, 7*len(changes))
	for _, ch := range changes {
		keys = append(keys, c.k.user(ch.UserID), c.k.user(ch.ToUserID), c.k.follows(ch.UserID),
			c.k.following(ch.UserID), c.k.followers(ch.ToUserID), c.k.friends(ch.UserID), c.k.friends(ch.ToUserID))
	}
	c.invalidate(ctx, keys...)
}

// invalidate deletes keys now and again after SecondDelete: a reader that
// loaded the old row before the commit may write it back just after the
// first delete, and the second one removes it. A delete that fails goes to
// the retrier.
func (c *Cache) invalidate(ctx context.Context, keys ...string) {
	// Each key once, however many changes of a batch name it (a hot video
	// or author is in many).
	slices.Sort(keys)
	keys = slices.Compact(keys)
	c.near.drop(keys...) // at once: the writer's next read must not see the old value
	if c.rdb == nil {
		return
	}
	// The request may end right after this; the deletes must not.
	ctx = context.WithoutCancel(ctx)
	c.deleteOrRetry(ctx, keys)
	// Again, now that Redis has lost the old values: a reader that missed
	// in process after the first drop may have put Redis's old value back.
	c.near.drop(keys...)
	if c.closed.Load() {
		return
	}
	c.pending.Add(1)
	time.AfterFunc(c.opt.SecondDelete, func() {
		defer c.pending.Done()
		c.near.drop(keys...)
		c.deleteOrRetry(ctx, keys)
	})
}

func (c *Cache) deleteOrRetry(ctx context.Context, keys []string) {
	err := errRedisCoolingDown
	if c.usable() {
		err = c.Delete(ctx, keys)
	}
	if err == nil {
		return
	}
	c.remember(keys)
	c.m.deleteRetries.Inc()
	body, merr := json.Marshal(keys)
	if merr != nil {
		c.log.Error("encode keys to retry", zap.Error(merr))
		return
	}
	// Handed on without waiting: a broker slow to confirm, or silent,
	// must not hold the request that wrote.
	if perr := c.retrier.Enqueue(ctx, body); perr != nil {
		// Nothing more can be done here; the TTL bounds the staleness.
		c.m.deleteLost.Inc()
		c.log.Error("cache delete lost: retry queue refused it", zap.Strings("keys", keys), zap.Error(perr), zap.NamedError("delete_error", err))
	}
}

var errRedisCoolingDown = errors.New("redis cooling down after an error")

// Delete removes keys and their leases, one DEL each in a pipeline so
// that it also works on Redis Cluster, where one DEL may not span hash
// slots (a key and its lease share one), and publishes them
// to every instance's in-process layer in the same round trip.
func (c *Cache) Delete(ctx context.Context, keys []string) error {
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
func (c *Cache) HandleRetry(ctx context.Context, body []byte) error {
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
func (c *Cache) Close(ctx context.Context) error {
	c.closed.Store(true)
	done := make(chan struct{})
	go func() { c.pending.Wait(); close(done) }()
	defer func() {
		if c.stop != nil {
			c.stop()
			<-c.fed
		}
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cache: second deletes still pending: %w", ctx.Err())
	}
}
