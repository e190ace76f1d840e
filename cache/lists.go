package cache

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/model"
)

// list answers a whole-list read from key in Redis, loading it beneath on
// a miss (one load for all concurrent misses) and caching it for the TTL.
func list[T any](ctx context.Context, c *Redis, kind, key string, cd codec[T], load func() (T, error)) (T, error) {
	if !c.usable() {
		return load()
	}
	chk := c.check(key)
	if !c.unsent.has(key) {
		raw, err := c.rdb.Get(ctx, key).Bytes()
		if err == nil {
			if v, err := cd.decode(raw); err == nil {
				c.m.redis(kind, 1)
				return v, nil
			}
		} else if c.failed(err) {
			return load()
		}
	}
	v, err := chk.load(key, func() (any, error) {
		token := c.take(ctx, key)[0]
		v, err := load()
		if err != nil {
			return nil, err
		}
		if cmd := fill(ctx, c.rdb, key, token, c.ttl.value(), "s", cd.encode(v)); cmd != nil && c.failed(cmd.Err()) {
			c.log.Debug("cache write-back failed", zap.Error(cmd.Err()))
		}
		return v, nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil
}

// PublishedRefs returns an author's videos, newest first.
func (c *Redis) PublishedRefs(ctx context.Context, authorID int64) ([]model.VideoRef, error) {
	return list(ctx, c, "published", c.k.published(authorID), refsCodec, func() ([]model.VideoRef, error) {
		return c.next.PublishedRefs(ctx, authorID)
	})
}

// FavoriteRefs returns the videos a user likes, most recent first.
func (c *Redis) FavoriteRefs(ctx context.Context, userID int64) ([]model.VideoRef, error) {
	return list(ctx, c, "favorites", c.k.favorites(userID), refsCodec, func() ([]model.VideoRef, error) {
		return c.next.FavoriteRefs(ctx, userID)
	})
}

// Comments returns a video's comments, newest first.
func (c *Redis) Comments(ctx context.Context, videoID int64) ([]*model.Comment, error) {
	return list(ctx, c, "comments", c.k.comments(videoID), commentsCodec, func() ([]*model.Comment, error) {
		return c.next.Comments(ctx, videoID)
	})
}

// FollowingIDs returns whom a user follows, most recent first.
func (c *Redis) FollowingIDs(ctx context.Context, userID int64) ([]int64, error) {
	return list(ctx, c, "following", c.k.following(userID), idsCodec, func() ([]int64, error) {
		return c.next.FollowingIDs(ctx, userID)
	})
}

// FollowerIDs returns a user's followers, most recent first.
func (c *Redis) FollowerIDs(ctx context.Context, userID int64) ([]int64, error) {
	return list(ctx, c, "followers", c.k.followers(userID), idsCodec, func() ([]int64, error) {
		return c.next.FollowerIDs(ctx, userID)
	})
}

// FriendIDs returns a user's mutual follows.
func (c *Redis) FriendIDs(ctx context.Context, userID int64) ([]int64, error) {
	return list(ctx, c, "friends", c.k.friends(userID), idsCodec, func() ([]int64, error) {
		return c.next.FriendIDs(ctx, userID)
	})
}

// FeedBefore returns up to limit videos published before beforeMs, newest
// first, from the timeline ZSET. The timeline holds the newest
// videos the bottom layer's Timeline holds and a "floor" member scored at the oldest time it
// still covers completely (0 when it holds every video); both live in one
// key, so a reader never sees a timeline without its floor. Pages older
// than the floor go beneath.
func (c *Redis) FeedBefore(ctx context.Context, beforeMs int64, limit int) ([]model.VideoRef, error) {
	if !c.usable() || c.unsent.has(c.k.timeline()) {
		return c.next.FeedBefore(ctx, beforeMs, limit)
	}
	chk := c.check(c.k.timeline())
	res, err := c.rdb.ZRevRangeByScoreWithScores(ctx, c.k.timeline(), &redis.ZRangeBy{
		Max: "(" + strconv.FormatInt(beforeMs, 10), Min: "-inf", Count: int64(limit) + 1,
	}).Result()
	if c.failed(err) {
		return c.next.FeedBefore(ctx, beforeMs, limit)
	}
	refs := make([]model.VideoRef, 0, limit)
	for _, z := range res {
		m, _ := z.Member.(string)
		if m == floorMember {
			if z.Score == 0 || len(refs) >= limit {
				c.m.redis("timeline", 1)
				return refs, nil // complete, or enough above the floor
			}
			return c.next.FeedBefore(ctx, beforeMs, limit) // older than the cached window
		}
		if len(refs) == limit {
			break
		}
		ref, ok := parseRef(m, int64(z.Score))
		if !ok {
			break
		}
		refs = append(refs, ref)
	}
	if len(refs) >= limit {
		c.m.redis("timeline", 1)
		return refs, nil
	}
	// Fewer than asked and no floor reached: either the page lies below a
	// partial timeline's floor (go beneath) or the key is missing (rebuild
	// it, and answer this request from beneath).
	n, err := c.rdb.Exists(ctx, c.k.timeline()).Result()
	if c.failed(err) || n == 1 {
		return c.next.FeedBefore(ctx, beforeMs, limit)
	}
	if _, err := c.rebuildTimeline(ctx, chk); err != nil {
		return nil, err
	}
	return c.next.FeedBefore(ctx, beforeMs, limit)
}

// Timeline reads the timeline ZSET whole, rebuilding it on a miss.
func (c *Redis) Timeline(ctx context.Context) (*Timeline, error) {
	key := c.k.timeline()
	if !c.usable() || c.unsent.has(key) {
		return c.next.Timeline(ctx)
	}
	chk := c.check(key)
	res, err := c.rdb.ZRevRangeWithScores(ctx, key, 0, -1).Result()
	if c.failed(err) {
		return c.next.Timeline(ctx)
	}
	if len(res) > 0 {
		if t := parseTimeline(res); t != nil {
			c.m.redis("timeline", 1)
			return t, nil
		}
		return c.next.Timeline(ctx) // not ours to read
	}
	return c.rebuildTimeline(ctx, chk)
}

// parseTimeline decodes a whole timeline ZSET, newest first; nil when a
// member is not one this version wrote or the floor is missing.
func parseTimeline(res []redis.Z) *Timeline {
	t := &Timeline{Refs: make([]model.VideoRef, 0, len(res))}
	floor := false
	for _, z := range res {
		m, _ := z.Member.(string)
		if m == floorMember {
			t.Floor, floor = int64(z.Score), true
			continue
		}
		ref, ok := parseRef(m, int64(z.Score))
		if !ok {
			return nil
		}
		t.Refs = append(t.Refs, ref)
	}
	if !floor {
		return nil
	}
	return t
}

// rebuildTimeline loads the timeline beneath once for the concurrent
// callers that noted the same epoch, and writes it to Redis under a lease.
func (c *Redis) rebuildTimeline(ctx context.Context, chk *checked) (*Timeline, error) {
	v, err := chk.load(c.k.timeline(), func() (any, error) {
		token := c.take(ctx, c.k.timeline())[0]
		t, err := c.next.Timeline(ctx)
		if err != nil {
			return nil, err
		}
		// Score/member pairs, the floor first; one script, so readers see
		// the old timeline or the new one.
		zs := make([]any, 0, 2*len(t.Refs)+2)
		zs = append(zs, t.Floor, floorMember)
		for _, r := range t.Refs {
			zs = append(zs, r.PublishedAt, itoa(r.ID)+":"+itoa(r.AuthorID))
		}
		if cmd := fill(ctx, c.rdb, c.k.timeline(), token, c.ttl.value(), "z", zs...); cmd != nil && c.failed(cmd.Err()) {
			c.log.Debug("timeline rebuild not cached", zap.Error(cmd.Err()))
		}
		return t, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Timeline), nil
}

func parseRef(member string, score int64) (model.VideoRef, bool) {
	id, author, ok := strings.Cut(member, ":")
	if !ok {
		return model.VideoRef{}, false
	}
	vid, err1 := strconv.ParseInt(id, 10, 64)
	aid, err2 := strconv.ParseInt(author, 10, 64)
	if err1 != nil || err2 != nil {
		return model.VideoRef{}, false
	}
	return model.VideoRef{ID: vid, AuthorID: aid, PublishedAt: score}, true
}
