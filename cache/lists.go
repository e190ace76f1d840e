package cache

import (
	"context"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/model"
)

// list answers a whole-list read from the in-process layer, else from key
// in Redis, loading it on a miss (one load for all concurrent misses) and
// caching it for the TTL.
func list[T any](ctx context.Context, c *Cache, kind, key string, cd codec[T], load func() (T, error)) (T, error) {
	if !c.cached() {
		return load()
	}
	if v, ok := c.near.get(key); ok {
		c.m.local(kind, 1)
		return v.(T), nil
	}
	chk := c.check(key)
	if c.rdb != nil && !c.unsent.has(key) {
		raw, err := c.rdb.Get(ctx, key).Bytes()
		if err == nil {
			if v, err := cd.decode(raw); err == nil {
				c.m.count(kind, 1, 0)
				keepList(chk, v, len(raw))
				return v, nil
			}
		} else if c.failed(err) {
			return load()
		}
	}
	c.m.count(kind, 0, 1)
	type loadedList struct {
		v    T
		size int // encoded
	}
	loaded, err := chk.load(key, func() (any, error) {
		token := c.take(ctx, key)[0]
		v, err := load()
		if err != nil {
			return nil, err
		}
		raw := cd.encode(v)
		if cmd := fill(ctx, c.rdb, key, token, c.ttl.value(), "s", raw); cmd != nil && c.failed(cmd.Err()) {
			c.log.Debug("cache write-back failed", zap.Error(cmd.Err()))
		}
		return loadedList{v, len(raw)}, nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	l := loaded.(loadedList)
	keepList(chk, l.v, l.size)
	return l.v, nil
}

// maxNearList bounds the encoded size of a list kept in process, so that
// the layer's memory stays bounded by its entry count.
const maxNearList = 64 << 10

// keepList keeps the list v of the one key chk noted.
func keepList(chk *checked, v any, size int) {
	if size <= maxNearList {
		chk.keep(0, v)
	}
}

// PublishedRefs returns an author's videos, newest first.
func (c *Cache) PublishedRefs(ctx context.Context, authorID int64) ([]model.VideoRef, error) {
	return list(ctx, c, "published", c.k.published(authorID), refsCodec, func() ([]model.VideoRef, error) {
		return c.db.PublishedRefs(ctx, authorID)
	})
}

// FavoriteRefs returns the videos a user likes, most recent first.
func (c *Cache) FavoriteRefs(ctx context.Context, userID int64) ([]model.VideoRef, error) {
	return list(ctx, c, "favorites", c.k.favorites(userID), refsCodec, func() ([]model.VideoRef, error) {
		return c.db.FavoriteRefs(ctx, userID)
	})
}

// Comments returns a video's comments, newest first.
func (c *Cache) Comments(ctx context.Context, videoID int64) ([]*model.Comment, error) {
	return list(ctx, c, "comments", c.k.comments(videoID), commentsCodec, func() ([]*model.Comment, error) {
		return c.db.Comments(ctx, videoID)
	})
}

// FollowingIDs returns whom a user follows, most recent first.
func (c *Cache) FollowingIDs(ctx context.Context, userID int64) ([]int64, error) {
	return list(ctx, c, "following", c.k.following(userID), idsCodec, func() ([]int64, error) {
		return c.db.FollowingIDs(ctx, userID)
	})
}

// FollowerIDs returns a user's followers, most recent first.
func (c *Cache) FollowerIDs(ctx context.Context, userID int64) ([]int64, error) {
	return list(ctx, c, "followers", c.k.followers(userID), idsCodec, func() ([]int64, error) {
		return c.db.FollowerIDs(ctx, userID)
	})
}

// FriendIDs returns a user's mutual follows.
func (c *Cache) FriendIDs(ctx context.Context, userID int64) ([]int64, error) {
	return list(ctx, c, "friends", c.k.friends(userID), idsCodec, func() ([]int64, error) {
		return c.db.FriendIDs(ctx, userID)
	})
}

// FeedBefore returns up to limit videos published before beforeMs, newest
// first, from the timeline ZSET. The timeline holds the newest
// TimelineSize videos and a "floor" member scored at the oldest time it
// still covers completely (0 when it holds every video); both live in one
// key, so a reader never sees a timeline without its floor. Pages older
// than the floor go to the database. With the in-process layer on, the
// whole timeline is kept there and pages are cut from it.
func (c *Cache) FeedBefore(ctx context.Context, beforeMs int64, limit int) ([]model.VideoRef, error) {
	if !c.cached() {
		return c.db.FeedBefore(ctx, beforeMs, limit)
	}
	if c.near.usable() {
		return c.feedNear(ctx, beforeMs, limit)
	}
	if c.unsent.has(c.k.timeline()) {
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
	if _, err, _ := c.group.Do(c.k.timeline(), func() (any, error) { return c.rebuildTimeline(ctx) }); err != nil {
		return nil, err
	}
	return c.db.FeedBefore(ctx, beforeMs, limit)
}

// timeline is the decoded timeline ZSET: refs newest first, and the
// floor (0 when refs hold every video).
type timeline struct {
	refs  []model.VideoRef
	floor int64
}

// page cuts the videos published before beforeMs; ok is false when the
// page reaches below the floor, where the timeline is not complete.
func (t *timeline) page(beforeMs int64, limit int) (refs []model.VideoRef, ok bool) {
	i := sort.Search(len(t.refs), func(i int) bool { return t.refs[i].PublishedAt < beforeMs })
	end := min(i+limit, len(t.refs))
	if end-i < limit && t.floor != 0 {
		return nil, false
	}
	return slices.Clone(t.refs[i:end]), true
}

// feedNear answers from the timeline kept in process, reading it whole
// from Redis (or rebuilding it) when it is not.
func (c *Cache) feedNear(ctx context.Context, beforeMs int64, limit int) ([]model.VideoRef, error) {
	key := c.k.timeline()
	if v, ok := c.near.get(key); ok {
		c.m.local("timeline", 1)
		if refs, ok := v.(*timeline).page(beforeMs, limit); ok {
			return refs, nil
		}
		return c.db.FeedBefore(ctx, beforeMs, limit)
	}
	chk := c.check(key)
	var res []redis.Z
	if c.unsent.has(key) {
		return c.db.FeedBefore(ctx, beforeMs, limit)
	}
	if c.rdb != nil {
		var err error
		if res, err = c.rdb.ZRevRangeWithScores(ctx, key, 0, -1).Result(); c.failed(err) {
			return c.db.FeedBefore(ctx, beforeMs, limit)
		}
	}
	var t *timeline
	if len(res) > 0 {
		c.m.count("timeline", 1, 0)
		if t = parseTimeline(res); t == nil {
			return c.db.FeedBefore(ctx, beforeMs, limit) // not ours to read
		}
	} else {
		c.m.count("timeline", 0, 1)
		v, err := chk.load(key, func() (any, error) { return c.rebuildTimeline(ctx) })
		if err != nil {
			return nil, err
		}
		t = v.(*timeline)
	}
	chk.keep(0, t)
	if refs, ok := t.page(beforeMs, limit); ok {
		return refs, nil
	}
	return c.db.FeedBefore(ctx, beforeMs, limit)
}

// parseTimeline decodes a whole timeline ZSET, newest first; nil when a
// member is not one this version wrote or the floor is missing.
func parseTimeline(res []redis.Z) *timeline {
	t := &timeline{refs: make([]model.VideoRef, 0, len(res))}
	floor := false
	for _, z := range res {
		m, _ := z.Member.(string)
		if m == floorMember {
			t.floor, floor = int64(z.Score), true
			continue
		}
		ref, ok := parseRef(m, int64(z.Score))
		if !ok {
			return nil
		}
		t.refs = append(t.refs, ref)
	}
	if !floor {
		return nil
	}
	return t
}

func (c *Cache) rebuildTimeline(ctx context.Context) (*timeline, error) {
	token := c.take(ctx, c.k.timeline())[0]
	refs, err := c.db.FeedBefore(ctx, math.MaxInt64, c.opt.TimelineSize)
	if err != nil {
		return nil, err
	}
	floor := int64(0)
	if len(refs) == c.opt.TimelineSize {
		floor = refs[len(refs)-1].PublishedAt
	}
	t := &timeline{refs: refs, floor: floor}
	if c.rdb == nil {
		return t, nil
	}
	// Score/member pairs, the floor first; one script, so readers see the
	// old timeline or the new one.
	zs := make([]any, 0, 2*len(refs)+2)
	zs = append(zs, floor, floorMember)
	for _, r := range refs {
		zs = append(zs, r.PublishedAt, itoa(r.ID)+":"+itoa(r.AuthorID))
	}
	if cmd := fill(ctx, c.rdb, c.k.timeline(), token, c.ttl.value(), "z", zs...); cmd != nil && c.failed(cmd.Err()) {
		c.log.Debug("timeline rebuild not cached", zap.Error(cmd.Err()))
	}
	return t, nil
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
