package cache

import (
	"context"
	"math"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/model"
)

// list answers a whole-list read from key, loading it on a miss (one load
// for all concurrent misses) and caching it for the TTL.
func list[T any](c *Cache, ctx context.Context, kind, key string, cd codec[T], load func() (T, error)) (T, error) {
	if !c.usable() {
		return load()
	}
	raw, err := c.rdb.Get(ctx, key).Bytes()
	if err == nil {
		if v, err := cd.decode(raw); err == nil {
			c.m.count(kind, 1, 0)
			return v, nil
		}
	} else if c.failed(err) {
		return load()
	}
	c.m.count(kind, 0, 1)
	loaded, err, _ := c.group.Do(key, func() (any, error) {
		v, err := load()
		if err != nil {
			return v, err
		}
		if err := c.rdb.Set(ctx, key, cd.encode(v), c.ttl.value()).Err(); c.failed(err) {
			c.log.Debug("cache write-back failed", zap.Error(err))
		}
		return v, nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return loaded.(T), nil
}

// PublishedRefs returns an author's videos, newest first.
func (c *Cache) PublishedRefs(ctx context.Context, authorID int64) ([]model.VideoRef, error) {
	return list(c, ctx, "published", c.k.published(authorID), refsCodec, func() ([]model.VideoRef, error) {
		return c.db.PublishedRefs(ctx, authorID)
	})
}

// FavoriteRefs returns the videos a user likes, most recent first.
func (c *Cache) FavoriteRefs(ctx context.Context, userID int64) ([]model.VideoRef, error) {
	return list(c, ctx, "favorites", c.k.favorites(userID), refsCodec, func() ([]model.VideoRef, error) {
		return c.db.FavoriteRefs(ctx, userID)
	})
}

// Comments returns a video's comments, newest first.
func (c *Cache) Comments(ctx context.Context, videoID int64) ([]*model.Comment, error) {
	return list(c, ctx, "comments", c.k.comments(videoID), commentsCodec, func() ([]*model.Comment, error) {
		return c.db.Comments(ctx, videoID)
	})
}

// FollowingIDs returns whom a user follows, most recent first.
func (c *Cache) FollowingIDs(ctx context.Context, userID int64) ([]int64, error) {
	return list(c, ctx, "following", c.k.following(userID), idsCodec, func() ([]int64, error) {
		return c.db.FollowingIDs(ctx, userID)
	})
}

// FollowerIDs returns a user's followers, most recent first.
func (c *Cache) FollowerIDs(ctx context.Context, userID int64) ([]int64, error) {
	return list(c, ctx, "followers", c.k.followers(userID), idsCodec, func() ([]int64, error) {
		return c.db.FollowerIDs(ctx, userID)
	})
}

// FriendIDs returns a user's mutual follows.
func (c *Cache) FriendIDs(ctx context.Context, userID int64) ([]int64, error) {
	return list(c, ctx, "friends", c.k.friends(userID), idsCodec, func() ([]int64, error) {
		return c.db.FriendIDs(ctx, userID)
	})
}

// FeedBefore returns up to limit videos published before beforeMs, newest
// first, from the timeline ZSET. The timeline holds the newest
// TimelineSize videos and a "floor" member scored at the oldest time it
// still covers completely (0 when it holds every video); both live in one
// key, so a reader never sees a timeline without its floor. Pages older
// than the floor go to the database.
func (c *Cache) FeedBefore(ctx context.Context, beforeMs int64, limit int) ([]model.VideoRef, error) {
	if !c.usable() {
		return c.db.FeedBefore(ctx, beforeMs, limit)
	}
	res, err := c.rdb.ZRevRangeByScoreWithScores(ctx, c.k.timeline(), &redis.ZRangeBy{
		Max: "(" + strconv.FormatInt(beforeMs, 10), Min: "-inf", Count: int64(limit) + 1,
	}).Result()
	if c.failed(err) {
		return c.db.FeedBefore(ctx, beforeMs, limit)
	}
	refs := make([]model.VideoRef, 0, limit)
	for _, z := range res {
		m, _ := z.Member.(string)
		if m == floorMember {
			if z.Score == 0 || len(refs) >= limit {
				c.m.count("timeline", 1, 0)
				return refs, nil // complete, or enough above the floor
			}
			c.m.count("timeline", 0, 1)
			return c.db.FeedBefore(ctx, beforeMs, limit) // older than the cached window
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
		c.m.count("timeline", 1, 0)
		return refs, nil
	}
	// Fewer than asked and no floor reached: either the page lies below a
	// partial timeline's floor (go to the database) or the key is missing
	// (rebuild it, and answer this request from the database).
	c.m.count("timeline", 0, 1)
	n, err := c.rdb.Exists(ctx, c.k.timeline()).Result()
	if c.failed(err) || n == 1 {
		return c.db.FeedBefore(ctx, beforeMs, limit)
	}
	if _, err, _ := c.group.Do(c.k.timeline(), func() (any, error) { return nil, c.rebuildTimeline(ctx) }); err != nil {
		return nil, err
	}
	return c.db.FeedBefore(ctx, beforeMs, limit)
}

func (c *Cache) rebuildTimeline(ctx context.Context) error {
	refs, err := c.db.FeedBefore(ctx, math.MaxInt64, c.opt.TimelineSize)
	if err != nil {
		return err
	}
	floor := int64(0)
	if len(refs) == c.opt.TimelineSize {
		floor = refs[len(refs)-1].PublishedAt
	}
	zs := make([]redis.Z, 0, len(refs)+1)
	zs = append(zs, redis.Z{Score: float64(floor), Member: floorMember})
	for _, r := range refs {
		zs = append(zs, redis.Z{Score: float64(r.PublishedAt), Member: itoa(r.ID) + ":" + itoa(r.AuthorID)})
	}
	key := c.k.timeline()
	pipe := c.rdb.TxPipeline() // MULTI: readers see the old timeline or the new one
	pipe.Del(ctx, key)
	pipe.ZAdd(ctx, key, zs...)
	pipe.Expire(ctx, key, c.ttl.value())
	if _, err := pipe.Exec(ctx); c.failed(err) {
		c.log.Debug("timeline rebuild not cached", zap.Error(err))
	}
	return nil
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
