// Package cache is the read-through Redis layer in front of the model
// store. Reads are answered from Redis in one or two pipelined round trips
// and fall back to the database on a miss or when Redis is unreachable;
// after each commit the stale keys are deleted, twice, and a delete that
// fails is handed to a retrier (RabbitMQ, or in-process without it).
// Without Redis every read passes straight to the store and every
// invalidation is a no-op, so services see one interface either way.
package cache

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/tiktok-lite/server/model"
)

// Retrier takes the keys of a delete that failed and makes sure it happens
// later: the RabbitMQ broker, or an in-process LocalRetrier.
type Retrier interface {
	Publish(ctx context.Context, body []byte) error
}

// Options tune the cache; zero values take the defaults.
type Options struct {
	Prefix       string        // key prefix, default "tiktok:"
	TTL          time.Duration // lifetime of a cached value, default 10m
	AbsentTTL    time.Duration // lifetime of an "absent" marker, default 30s
	Jitter       float64       // extra random share of a TTL, default 0.2
	TimelineSize int           // videos kept in the feed timeline, default 1000
	SecondDelete time.Duration // delay of the second delete, default 500ms
	DownFor      time.Duration // how long to skip Redis after an error, default 1s
}

func (o *Options) defaults() {
	if o.Prefix == "" {
		o.Prefix = "tiktok:"
	}
	if o.TTL <= 0 {
		o.TTL = 10 * time.Minute
	}
	if o.AbsentTTL <= 0 {
		o.AbsentTTL = 30 * time.Second
	}
	if o.Jitter == 0 {
		o.Jitter = 0.2
	}
	if o.TimelineSize <= 0 {
		o.TimelineSize = 1000
	}
	if o.SecondDelete <= 0 {
		o.SecondDelete = 500 * time.Millisecond
	}
	if o.DownFor <= 0 {
		o.DownFor = time.Second
	}
}

// Cache serves the reads the services may take from a cache and is told
// about every committed write.
type Cache struct {
	db      *model.Store
	rdb     redis.UniversalClient // nil: pass-through
	retrier Retrier
	log     *zap.Logger
	opt     Options
	k       keys
	ttl     ttls
	m       *metrics
	group   singleflight.Group

	downUntil atomic.Int64 // unix nanos; Redis is skipped until then
	pending   sync.WaitGroup
	closed    atomic.Bool
}

// NewPassThrough returns a cache that caches nothing: the embedded default.
func NewPassThrough(db *model.Store) *Cache { return &Cache{db: db, log: zap.NewNop()} }

// New returns a Redis-backed cache. reg may be nil.
func New(db *model.Store, rdb redis.UniversalClient, retrier Retrier, log *zap.Logger, reg prometheus.Registerer, opt Options) (*Cache, error) {
	if rdb == nil || retrier == nil {
		return nil, errors.New("cache: redis client and retrier are required")
	}
	opt.defaults()
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Cache{
		db: db, rdb: rdb, retrier: retrier, log: log.Named("cache"), opt: opt,
		k: keys{opt.Prefix}, ttl: ttls{base: opt.TTL, absent: opt.AbsentTTL, jitter: opt.Jitter}, m: m,
	}, nil
}

// usable reports whether Redis is configured and not in its cool-down
// after an error; while it cools down, reads go to the database directly
// instead of each waiting for a time-out.
func (c *Cache) usable() bool {
	return c.rdb != nil && time.Now().UnixNano() >= c.downUntil.Load()
}

// failed notes a Redis error; it returns true when err is one.
func (c *Cache) failed(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return true // the caller left; Redis is not to blame
	}
	was := c.downUntil.Swap(time.Now().Add(c.opt.DownFor).UnixNano())
	if was < time.Now().UnixNano() {
		c.log.Warn("redis unavailable, serving from the database", zap.Error(err))
	}
	c.m.errors.Inc()
	return true
}

// Ping reports whether Redis answers, for /readyz.
func (c *Cache) Ping(ctx context.Context) error {
	if c.rdb == nil {
		return nil
	}
	return c.rdb.Ping(ctx).Err()
}

// Find loads a page's objects and the viewer's relations to them: one
// pipeline on a warm cache, and one batched query per kind of miss.
func (c *Cache) Find(ctx context.Context, l model.Lookup) (*model.Found, error) {
	if !c.usable() {
		return c.db.Find(ctx, l)
	}
	vids, uids := uniq(l.VideoIDs), uniq(l.UserIDs)
	pipe := c.rdb.Pipeline()
	var vget, uget *redis.SliceCmd
	var liked, follows *redis.BoolSliceCmd
	if len(vids) > 0 {
		vget = pipe.MGet(ctx, c.keysOf(c.k.video, vids)...)
	}
	if len(uids) > 0 {
		uget = pipe.MGet(ctx, c.keysOf(c.k.user, uids)...)
	}
	if l.Viewer != 0 && len(vids) > 0 {
		liked = pipe.SMIsMember(ctx, c.k.likes(l.Viewer), members(vids)...)
	}
	if l.Viewer != 0 && len(uids) > 0 {
		follows = pipe.SMIsMember(ctx, c.k.follows(l.Viewer), members(uids)...)
	}
	if _, err := pipe.Exec(ctx); c.failed(err) {
		return c.db.Find(ctx, l)
	}

	found := &model.Found{Videos: map[int64]*model.Video{}, Users: map[int64]*model.User{}, Liked: map[int64]bool{}, Following: map[int64]bool{}}
	var fill []func(redis.Pipeliner)
	missV := decodeAll(vget, vids, found.Videos, videoCodec)
	missU := decodeAll(uget, uids, found.Users, userCodec)
	c.m.count("video", len(vids)-len(missV), len(missV))
	c.m.count("user", len(uids)-len(missU), len(missU))
	if len(missV) > 0 {
		rows, err := c.loadVideos(ctx, missV)
		if err != nil {
			return nil, err
		}
		fill = append(fill, storeObjects(c, ctx, missV, rows, c.k.video, videoCodec))
		for id, v := range rows {
			found.Videos[id] = v
		}
	}
	if len(missU) > 0 {
		rows, err := c.loadUsers(ctx, missU)
		if err != nil {
			return nil, err
		}
		fill = append(fill, storeObjects(c, ctx, missU, rows, c.k.user, userCodec))
		for id, u := range rows {
			found.Users[id] = u
		}
	}
	if f, err := c.membership(ctx, liked, vids, found.Liked, "likes", c.k.likes(l.Viewer), func() ([]int64, error) { return c.db.LikedIDs(ctx, l.Viewer) }); err != nil {
		return nil, err
	} else if f != nil {
		fill = append(fill, f)
	}
	if f, err := c.membership(ctx, follows, uids, found.Following, "follows", c.k.follows(l.Viewer), func() ([]int64, error) { return c.db.FollowingIDs(ctx, l.Viewer) }); err != nil {
		return nil, err
	} else if f != nil {
		fill = append(fill, f)
	}
	c.write(ctx, fill)
	return found, nil
}

// membership reads one SMISMEMBER answer into out; when the set was not
// loaded (its sentinel is missing) it loads it whole and returns the
// write-back.
func (c *Cache) membership(ctx context.Context, cmd *redis.BoolSliceCmd, ids []int64, out map[int64]bool,
	kind, key string, load func() ([]int64, error)) (func(redis.Pipeliner), error) {
	if cmd == nil {
		return nil, nil
	}
	res := cmd.Val()
	if len(res) == len(ids)+1 && res[0] {
		c.m.count(kind, 1, 0)
		for i, id := range ids {
			if res[i+1] {
				out[id] = true
			}
		}
		return nil, nil
	}
	c.m.count(kind, 0, 1)
	v, err, _ := c.group.Do(key, func() (any, error) { return load() })
	if err != nil {
		return nil, err
	}
	all := v.([]int64)
	set := make(map[int64]bool, len(all))
	for _, id := range all {
		set[id] = true
	}
	for _, id := range ids {
		if set[id] {
			out[id] = true
		}
	}
	return func(p redis.Pipeliner) {
		p.Del(ctx, key)
		p.SAdd(ctx, key, members(all)...)
		p.Expire(ctx, key, c.ttl.value())
	}, nil
}

func (c *Cache) loadVideos(ctx context.Context, ids []int64) (map[int64]*model.Video, error) {
	v, err, _ := c.group.Do("videos:"+joinIDs(ids), func() (any, error) { return c.db.VideosByIDs(ctx, ids) })
	if err != nil {
		return nil, err
	}
	return v.(map[int64]*model.Video), nil
}

func (c *Cache) loadUsers(ctx context.Context, ids []int64) (map[int64]*model.User, error) {
	v, err, _ := c.group.Do("users:"+joinIDs(ids), func() (any, error) { return c.db.UsersByIDs(ctx, ids) })
	if err != nil {
		return nil, err
	}
	return v.(map[int64]*model.User), nil
}

// storeObjects writes loaded rows back, and an absent marker for every id
// the database did not have, so probing random ids does not reach it.
func storeObjects[T any](c *Cache, ctx context.Context, ids []int64, rows map[int64]T, key func(int64) string, cd codec[T]) func(redis.Pipeliner) {
	return func(p redis.Pipeliner) {
		for _, id := range ids {
			row, ok := rows[id]
			if !ok {
				p.Set(ctx, key(id), absent, c.ttl.missing())
				continue
			}
			p.Set(ctx, key(id), cd.encode(row), c.ttl.value())
		}
	}
}

// write runs the write-backs of a read in one pipeline. A failure is only
// logged: the value was served from the database and will be cached next
// time.
func (c *Cache) write(ctx context.Context, fill []func(redis.Pipeliner)) {
	if len(fill) == 0 {
		return
	}
	pipe := c.rdb.Pipeline()
	for _, f := range fill {
		f(pipe)
	}
	if _, err := pipe.Exec(ctx); c.failed(err) {
		c.log.Debug("cache write-back failed", zap.Error(err))
	}
}

// decodeAll decodes MGET values into out and returns the ids that missed.
func decodeAll[T any](cmd *redis.SliceCmd, ids []int64, out map[int64]T, cd codec[T]) []int64 {
	if cmd == nil {
		return nil
	}
	var miss []int64
	for i, raw := range cmd.Val() {
		s, ok := raw.(string)
		if !ok {
			miss = append(miss, ids[i])
			continue
		}
		if s == absent {
			continue
		}
		v, err := cd.decode([]byte(s))
		if err != nil {
			miss = append(miss, ids[i]) // another version's value: reload it
			continue
		}
		out[ids[i]] = v
	}
	return miss
}

func (c *Cache) keysOf(key func(int64) string, ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = key(id)
	}
	return out
}

// members puts the set sentinel first, then ids.
func members(ids []int64) []any {
	out := make([]any, 0, len(ids)+1)
	out = append(out, setSentinel)
	for _, id := range ids {
		out = append(out, itoa(id))
	}
	return out
}

func uniq(ids []int64) []int64 {
	seen := make(map[int64]struct{}, len(ids))
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

func joinIDs(ids []int64) string {
	s := append([]int64(nil), ids...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	parts := make([]string, len(s))
	for i, id := range s {
		parts[i] = itoa(id)
	}
	return strings.Join(parts, ",")
}
