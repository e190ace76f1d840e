// Package cache holds the layers of the read path in front of the model
// store, each a Source over the one beneath it (source.go): the Redis
// layer (this file), and the in-process layer (local.go) in front of it
// or, on the embedded default, in front of the store alone.
//
// The Redis layer answers reads in one or two pipelined round trips and
// goes to the layer beneath on a miss or when Redis is unreachable; after
// each commit the stale keys are deleted, twice, and a delete that fails
// is handed to a retrier (RabbitMQ, or in-process without it).
package cache

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/redisguard"
)

// Retrier takes the keys of a delete that failed and makes sure it happens
// later: the RabbitMQ broker, or an in-process LocalRetrier. Enqueue must
// not wait for anything: a write's answer never waits on the broker.
type Retrier interface {
	Enqueue(ctx context.Context, body []byte) error
}

// Options tune the cache; zero values take the defaults.
type Options struct {
	Prefix       string        // key prefix, default "tiktok:"
	TTL          time.Duration // lifetime of a cached value, default 10m
	AbsentTTL    time.Duration // lifetime of an "absent" marker, default 30s
	Jitter       float64       // extra random share of a TTL, default 0.2
	SecondDelete time.Duration // delay of the second delete, default 500ms
	FlushEvery   time.Duration // how often failed deletes are tried again while Redis is up, default 100ms
	SweepEvery   time.Duration // how often the outbox is swept of rows a crash or a failed delete left, default 1s
	SweepAge     time.Duration // how old a row must be for the sweep (younger ones are being deleted), default 2s
	DownFor      time.Duration // how long to skip Redis after an error, default 1s
	// Guard is the Redis client's cool-down hook; nil makes one of DownFor
	// and installs it on the client given to NewRedis.
	Guard *redisguard.Guard
}

func (o *Options) defaults() {
	if o.Prefix == "" {
		o.Prefix = defaultPrefix
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
	if o.SecondDelete <= 0 {
		o.SecondDelete = 500 * time.Millisecond
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = 100 * time.Millisecond
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = time.Second
	}
	if o.SweepAge <= 0 {
		o.SweepAge = 2 * time.Second
	}
	if o.DownFor <= 0 {
		o.DownFor = time.Second
	}
}

// Redis is the Redis layer over the layer beneath it (next), and the
// Redis part of the invalidation path.
type Redis struct {
	Keys
	next    Source
	db      *model.Store // the outbox
	rdb     redis.UniversalClient
	retrier Retrier
	log     *zap.Logger
	opt     Options
	ttl     ttls
	m       *metrics
	// Epochs alone: nothing is kept in process here, but a read after
	// this process's write (or after another instance's, once its message
	// is heard) must not join a load that began before it.
	fence
	leases *leases
	unsent *unsentDeletes // keys whose delete failed and is still to be applied
	outbox outbox         // rows whose keys are deleted, to be removed
	bg     context.Context
	stop   func()         // ends tend and the feed
	tasks  sync.WaitGroup // tend and the feed

	guard   *redisguard.Guard
	perKey  bool // a Redis Cluster: one GET per key, never an MGET across slots
	pending sync.WaitGroup
	closed  atomic.Bool
}

// NewRedis stacks the Redis layer on next; db is where the outbox is.
// reg may be nil.
func NewRedis(next Source, db *model.Store, rdb redis.UniversalClient, retrier Retrier, log *zap.Logger, reg prometheus.Registerer, opt Options) (*Redis, error) {
	if rdb == nil || retrier == nil {
		return nil, errors.New("cache: redis client and retrier are required")
	}
	opt.defaults()
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	if opt.Guard == nil {
		opt.Guard = redisguard.New(opt.DownFor, log.Named("redis"))
		rdb.AddHook(opt.Guard)
	}
	k := keys{opt.Prefix}
	c := &Redis{
		Keys: Keys{k}, next: next, db: db.Primary(), rdb: rdb, retrier: retrier, log: log.Named("cache"), opt: opt, guard: opt.Guard,
		ttl: ttls{base: opt.TTL, absent: opt.AbsentTTL, jitter: opt.Jitter}, m: m,
		fence: fence{near: newNear(0, 1, false, k.ref)}, leases: newLeases(), unsent: newUnsent(),
	}
	// On a Cluster a page's keys hash to different slots, and one MGET may
	// not span them (CROSSSLOT). One GET per key in the same pipeline costs
	// one round trip per node, which the cluster client makes at once.
	_, c.perKey = rdb.(*redis.ClusterClient)
	c.bg, c.stop = context.WithCancel(context.Background())
	// Started once c is whole: tend sweeps at once.
	c.tasks.Add(1)
	go func() { c.tend(c.bg); c.tasks.Done() }()
	return c, nil
}

// Follow keeps n, an in-process layer above, in step with the
// invalidation channel until Close.
func (c *Redis) Follow(n *near) {
	c.tasks.Add(1)
	go func() { follow(c.bg, c.rdb, c.k.channel(), feedTargets{c.near, n}, c.log); c.tasks.Done() }()
}

// Next is the layer beneath.
func (c *Redis) Next() Source { return c.next }

// Up reports whether Redis is not in its cool-down after an error.
func (c *Redis) Up() bool { return c.usable() }

// usable reports whether Redis is not in its cool-down after an error;
// while it cools down, reads go beneath directly instead of each waiting
// for a time-out.
func (c *Redis) usable() bool { return !c.guard.Down() }

// failed reports whether err is a Redis error, to be served as a miss; the
// guard hook has already started the cool-down if Redis is away.
func (c *Redis) failed(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	if !errors.Is(err, context.Canceled) && !errors.Is(err, redisguard.ErrDown) {
		c.m.errors.Inc()
	}
	return true
}

// probeKeys are read by Ping the way a page's rows are read. Four keys
// fall into different hash slots, so that a read a Cluster refuses
// (CROSSSLOT), or a node that answers MOVED, shows as a cache that does
// not work rather than as a Redis that answers PING.
var probeKeys = []string{"ready:1", "ready:2", "ready:3", "ready:4"}

// Ping reports whether the cache works, for /readyz: a page-shaped read
// of probe keys through the same commands Find sends, and on a Cluster a
// PING of every master.
func (c *Redis) Ping(ctx context.Context) error {
	r := &objectRead{checked: c.check(), kind: "probe", perKey: c.perKey}
	for _, k := range probeKeys {
		r.add(c.opt.Prefix + k)
	}
	pipe := c.rdb.Pipeline()
	r.queue(ctx, pipe)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	// On a Cluster the probe keys may all miss the slots of a master that
	// is gone: every master of a freshly read slot map must answer too.
	// Reading the map here also corrects the client's after a failover.
	if cc, ok := c.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, master *redis.Client) error {
			return master.Ping(ctx).Err()
		})
	}
	return nil
}

// Find loads a page's objects and the viewer's relations to them: one
// Redis pipeline, and one batched read beneath per kind of Redis miss.
func (c *Redis) Find(ctx context.Context, l model.Lookup) (*model.Found, error) {
	if !c.usable() {
		return c.next.Find(ctx, l)
	}
	vids, uids := l.VideoIDs, l.UserIDs
	found := &model.Found{Videos: make(map[int64]*model.Video, len(vids)), Users: make(map[int64]*model.User, len(uids)),
		Liked: map[int64]bool{}, Following: map[int64]bool{}}
	videos := c.objects("video", vids, c.k.video)
	users := c.objects("user", uids, c.k.user)
	var sets []*memberRead
	if l.Viewer != 0 && len(vids) > 0 {
		sets = append(sets, c.members("likes", c.k.likes(l.Viewer), vids, found.Liked, func() ([]int64, error) {
			refs, err := c.next.FavoriteRefs(ctx, l.Viewer)
			return refIDs(refs), err
		}))
	}
	if l.Viewer != 0 && len(uids) > 0 {
		sets = append(sets, c.members("follows", c.k.follows(l.Viewer), uids, found.Following, func() ([]int64, error) {
			return c.next.FollowingIDs(ctx, l.Viewer)
		}))
	}
	if len(videos.ids) == 0 && len(users.ids) == 0 && len(sets) == 0 {
		return found, nil
	}

	pipe := c.rdb.Pipeline()
	videos.queue(ctx, pipe)
	users.queue(ctx, pipe)
	for _, m := range sets {
		m.queue(ctx, pipe)
	}
	if _, err := pipe.Exec(ctx); c.failed(err) {
		return c.next.Find(ctx, l)
	}

	var fill []func(redis.Pipeliner)
	if missV := decodeInto(videos, c, videoCodec, found.Videos); len(missV) > 0 {
		rows, err := loadRows(ctx, c, "videos", videos, missV, c.k.video, func(ctx context.Context, ids []int64) (map[int64]*model.Video, error) {
			f, err := c.next.Find(ctx, model.Lookup{VideoIDs: ids})
			if err != nil {
				return nil, err
			}
			return f.Videos, nil
		})
		if err != nil {
			return nil, err
		}
		fill = append(fill, storeRows(ctx, c, missV, rows, c.k.video, videoCodec, found.Videos))
	}
	if missU := decodeInto(users, c, userCodec, found.Users); len(missU) > 0 {
		rows, err := loadRows(ctx, c, "users", users, missU, c.k.user, func(ctx context.Context, ids []int64) (map[int64]*model.User, error) {
			f, err := c.next.Find(ctx, model.Lookup{UserIDs: ids})
			if err != nil {
				return nil, err
			}
			return f.Users, nil
		})
		if err != nil {
			return nil, err
		}
		fill = append(fill, storeRows(ctx, c, missU, rows, c.k.user, userCodec, found.Users))
	}
	for _, m := range sets {
		f, err := m.answer(ctx, c)
		if err != nil {
			return nil, err
		}
		if f != nil {
			fill = append(fill, f)
		}
	}
	c.write(ctx, fill)
	return found, nil
}

// VideoAuthor returns who published video id, or model.ErrNotFound, from
// the video's row.
func (c *Redis) VideoAuthor(ctx context.Context, id int64) (int64, error) {
	found, err := c.Find(ctx, model.Lookup{VideoIDs: []int64{id}})
	if err != nil {
		return 0, err
	}
	if v, ok := found.Videos[id]; ok {
		return v.AuthorID, nil
	}
	return 0, model.ErrNotFound
}

// objectRead is the part of a Find for one kind of row.
type objectRead struct {
	*checked // the keys to read, in the order of ids
	kind     string
	ids      []int64
	perKey   bool // GET each key (a Cluster) instead of one MGET
	mget     *redis.SliceCmd
	gets     []*redis.StringCmd
}

// objects prepares the read of ids' rows, each once.
func (c *Redis) objects(kind string, ids []int64, key func(int64) string) *objectRead {
	r := &objectRead{checked: c.check(), kind: kind, perKey: c.perKey}
	for _, id := range ids {
		if slices.Contains(r.ids, id) {
			continue // a repeat: it is asked for once
		}
		r.ids = append(r.ids, id)
		r.add(key(id))
	}
	return r
}

func (r *objectRead) queue(ctx context.Context, p redis.Pipeliner) {
	switch {
	case len(r.keys) == 0:
	case r.perKey:
		for _, k := range r.keys {
			r.gets = append(r.gets, p.Get(ctx, k))
		}
	default:
		r.mget = p.MGet(ctx, r.keys...)
	}
}

// values is the reply for each key, in order: a string, or nil for a key
// Redis does not hold.
func (r *objectRead) values() []any {
	if r.mget != nil {
		return r.mget.Val()
	}
	out := make([]any, len(r.gets))
	for i, g := range r.gets {
		if v, err := g.Result(); err == nil {
			out[i] = v
		}
	}
	return out
}

// decodeInto reads the MGET answer into out and returns the ids Redis did
// not have.
func decodeInto[T any](r *objectRead, c *Redis, cd codec[T], out map[int64]T) []int64 {
	if r.mget == nil && r.gets == nil {
		return r.ids
	}
	var miss []int64
	for i, raw := range r.values() {
		s, ok := raw.(string)
		if !ok || c.unsent.has(r.keys[i]) {
			miss = append(miss, r.ids[i])
			continue
		}
		if s == absent {
			continue
		}
		v, err := cd.decode([]byte(s))
		if err != nil {
			miss = append(miss, r.ids[i]) // another version's value: reload it
			continue
		}
		out[r.ids[i]] = v
	}
	c.m.redis(r.kind, len(r.ids)-len(miss))
	return miss
}

// storeRows puts rows loaded beneath in out, and returns their write-back
// to Redis: each row, and an absent marker for every id the database did
// not have, so probing random ids does not reach it.
func storeRows[T any](ctx context.Context, c *Redis, ids []int64, loaded loadedRows[T], key func(int64) string, cd codec[T], out map[int64]T) func(redis.Pipeliner) {
	rows := loaded.rows
	for _, id := range ids {
		if row, ok := rows[id]; ok {
			out[id] = row
		}
	}
	return func(p redis.Pipeliner) {
		for i, id := range ids {
			row, ok := rows[id]
			if !ok {
				fill(ctx, p, key(id), loaded.tokens[i], c.ttl.missing(), "s", absent)
				continue
			}
			fill(ctx, p, key(id), loaded.tokens[i], c.ttl.value(), "s", cd.encode(row))
		}
	}
}

// loadedRows are rows read from the database and the leases taken, in the
// order of the ids asked, before they were read.
type loadedRows[T any] struct {
	rows   map[int64]T
	tokens []string
}

// loadRows reads the rows of ids once for every concurrent caller with the
// same epochs, under a lease on each row's key.
func loadRows[T any](ctx context.Context, c *Redis, kind string, r *objectRead, ids []int64, key func(int64) string, read func(context.Context, []int64) (map[int64]T, error)) (loadedRows[T], error) {
	v, err := r.load(kind+":"+joinIDs(ids), func() (any, error) {
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = key(id)
		}
		tokens := c.take(ctx, keys...)
		rows, err := read(ctx, ids)
		return loadedRows[T]{rows, tokens}, err
	})
	if err != nil {
		return loadedRows[T]{}, err
	}
	return v.(loadedRows[T]), nil
}

// write runs the write-backs of a read in one pipeline. A failure is only
// logged: the value was served from the database and will be cached next
// time.
func (c *Redis) write(ctx context.Context, fill []func(redis.Pipeliner)) {
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

// members puts the set sentinel first, then ids.
func members(ids []int64) []any {
	out := make([]any, 0, len(ids)+1)
	out = append(out, setSentinel)
	for _, id := range ids {
		out = append(out, itoa(id))
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
