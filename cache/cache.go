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
	"slices"
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
	TimelineSize int           // videos kept in the feed timeline, default 1000
	SecondDelete time.Duration // delay of the second delete, default 500ms
	FlushEvery   time.Duration // how often failed deletes are tried again while Redis is up, default 100ms
	SweepEvery   time.Duration // how often the outbox is swept of rows a crash or a failed delete left, default 1s
	SweepAge     time.Duration // how old a row must be for the sweep (younger ones are being deleted), default 2s
	DownFor      time.Duration // how long to skip Redis after an error, default 1s
	// Guard is the Redis client's cool-down hook; nil makes one of DownFor
	// and installs it on the client given to New.
	Guard *redisguard.Guard
	// LocalTTL turns on the in-process layer in front of Redis and bounds
	// how long it keeps a value; invalidation, not this, keeps it fresh.
	// Zero leaves it off: every read asks Redis.
	LocalTTL     time.Duration
	LocalEntries int // size of the in-process layer, default 65536
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
	if o.LocalEntries <= 0 {
		o.LocalEntries = 1 << 16
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
	leases  *leases
	unsent  *unsentDeletes // keys whose delete failed and is still to be applied
	outbox  outbox         // rows whose keys are deleted, to be removed
	near    *near          // nil without Redis or in-process layer; never live with the layer off
	stop    func()         // ends the invalidation feed and tend
	fed     chan struct{}  // closed when both have ended

	guard   *redisguard.Guard
	perKey  bool // a Redis Cluster: one GET per key, never an MGET across slots
	pending sync.WaitGroup
	closed  atomic.Bool
}

// NewPassThrough returns a cache that caches nothing.
func NewPassThrough(db *model.Store) *Cache { return &Cache{db: db, log: zap.NewNop()} }

// NewInProcess returns a cache held in process alone, for a database that
// only this process writes (the embedded SQLite default): every write
// passes through it, so its invalidations are complete and immediate.
// reg may be nil.
func NewInProcess(db *model.Store, reg prometheus.Registerer, opt Options) (*Cache, error) {
	if opt.LocalTTL <= 0 {
		return nil, errors.New("cache: an in-process cache needs a positive LocalTTL")
	}
	opt.defaults()
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	k := keys{opt.Prefix}
	return &Cache{db: db.Primary(), log: zap.NewNop(), opt: opt, k: k, m: m,
		near: newNear(opt.LocalTTL, opt.LocalEntries, true, k.ref)}, nil
}

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
	if opt.Guard == nil {
		opt.Guard = redisguard.New(opt.DownFor, log.Named("redis"))
		rdb.AddHook(opt.Guard)
	}
	c := &Cache{
		// What the cache keeps lives for its TTL: it is loaded from the
		// primary, never from a replica that may not have the last write.
		db: db.Primary(), rdb: rdb, retrier: retrier, log: log.Named("cache"), opt: opt, guard: opt.Guard,
		k: keys{opt.Prefix}, ttl: ttls{base: opt.TTL, absent: opt.AbsentTTL, jitter: opt.Jitter}, m: m,
		fed: make(chan struct{}), leases: newLeases(), unsent: newUnsent(),
	}
	// On a Cluster a page's keys hash to different slots, and one MGET may
	// not span them (CROSSSLOT). One GET per key in the same pipeline costs
	// one round trip per node, which the cluster client makes at once.
	_, c.perKey = rdb.(*redis.ClusterClient)
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	if opt.LocalTTL > 0 {
		c.near = newNear(opt.LocalTTL, opt.LocalEntries, false, c.k.ref)
	} else {
		// Never live, so it holds nothing; its epochs still fence the
		// shared loads, so that a read after this process's write does not
		// join a load that began before it.
		c.near = newNear(0, 1, false, c.k.ref)
	}
	// Started once c is whole: tend sweeps at once.
	var background sync.WaitGroup
	background.Add(1)
	go func() { c.tend(ctx); background.Done() }()
	if opt.LocalTTL > 0 {
		background.Add(1)
		go func() { follow(ctx, rdb, c.k.channel(), c.near, c.log); background.Done() }()
	}
	go func() { background.Wait(); close(c.fed) }()
	return c, nil
}

// usable reports whether Redis is configured and not in its cool-down
// after an error; while it cools down, reads go to the database directly
// instead of each waiting for a time-out.
func (c *Cache) usable() bool {
	return c.rdb != nil && !c.guard.Down()
}

// failed reports whether err is a Redis error, to be served as a miss; the
// guard hook has already started the cool-down if Redis is away.
func (c *Cache) failed(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	if !errors.Is(err, context.Canceled) && !errors.Is(err, redisguard.ErrDown) {
		c.m.errors.Inc()
	}
	return true
}

// cached reports whether reads may go through the cache: Redis is usable,
// or there is no Redis and the in-process layer stands alone.
func (c *Cache) cached() bool {
	return c.usable() || (c.rdb == nil && c.near.usable())
}

// LocalLive reports whether the in-process layer serves: it is on and its
// invalidation feed is connected.
func (c *Cache) LocalLive() bool { return c.near.usable() }

// probeKeys are read by Ping the way a page's rows are read. Four keys
// fall into different hash slots, so that a read a Cluster refuses
// (CROSSSLOT), or a node that answers MOVED, shows as a cache that does
// not work rather than as a Redis that answers PING.
var probeKeys = []string{"ready:1", "ready:2", "ready:3", "ready:4"}

// Ping reports whether the cache works, for /readyz: a page-shaped read
// of probe keys through the same commands Find sends, and on a Cluster a
// PING of every master.
func (c *Cache) Ping(ctx context.Context) error {
	if c.rdb == nil {
		return nil
	}
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

// Find loads a page's objects and the viewer's relations to them: from
// the in-process layer when it holds them, else one Redis pipeline for
// what it lacks, and one batched query per kind of Redis miss.
func (c *Cache) Find(ctx context.Context, l model.Lookup) (*model.Found, error) {
	if !c.cached() {
		return c.db.Find(ctx, l)
	}
	vids, uids := l.VideoIDs, l.UserIDs // repeats are harmless, and rare enough not to remove
	found := &model.Found{Videos: make(map[int64]*model.Video, len(vids)), Users: make(map[int64]*model.User, len(uids)),
		Liked: map[int64]bool{}, Following: map[int64]bool{}}
	videos := nearObjects(c, "video", videoRow, vids, c.k.video, found.Videos)
	users := nearObjects(c, "user", userRow, uids, c.k.user, found.Users)
	var sets []*memberRead
	if l.Viewer != 0 && len(vids) > 0 {
		sets = append(sets, c.nearMembers(ctx, "likes", c.k.likes(l.Viewer), vids, found.Liked,
			func() ([]int64, error) { return c.db.LikedIDs(ctx, l.Viewer) }))
	}
	if l.Viewer != 0 && len(uids) > 0 {
		sets = append(sets, c.nearMembers(ctx, "follows", c.k.follows(l.Viewer), uids, found.Following,
			func() ([]int64, error) { return c.db.FollowingIDs(ctx, l.Viewer) }))
	}
	pending := slices.DeleteFunc(sets, func(m *memberRead) bool { return m == nil })
	if len(videos.ids) == 0 && len(users.ids) == 0 && len(pending) == 0 {
		return found, nil
	}

	if c.rdb != nil {
		pipe := c.rdb.Pipeline()
		videos.queue(ctx, pipe)
		users.queue(ctx, pipe)
		for _, m := range pending {
			m.queue(ctx, pipe)
		}
		if _, err := pipe.Exec(ctx); c.failed(err) {
			return c.db.Find(ctx, l)
		}
	}

	var fill []func(redis.Pipeliner)
	if missV := decodeInto(videos, c, videoCodec, found.Videos); len(missV) > 0 {
		rows, err := loadRows(ctx, c, "videos", videos, missV, c.k.video, c.db.VideosByIDs)
		if err != nil {
			return nil, err
		}
		fill = append(fill, storeRows(ctx, c, videos, missV, rows, c.k.video, videoCodec, found.Videos))
	}
	if missU := decodeInto(users, c, userCodec, found.Users); len(missU) > 0 {
		rows, err := loadRows(ctx, c, "users", users, missU, c.k.user, c.db.UsersByIDs)
		if err != nil {
			return nil, err
		}
		fill = append(fill, storeRows(ctx, c, users, missU, rows, c.k.user, userCodec, found.Users))
	}
	for _, m := range pending {
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

// VideoAuthor returns who published video id, or model.ErrNotFound. A
// video is never deleted and its author never changes, so the answer is
// kept in process with no invalidation: a like of a popular video then
// needs no read at all, although each like drops the video's row. An
// unknown id is not kept; it may be published later.
func (c *Cache) VideoAuthor(ctx context.Context, id int64) (int64, error) {
	if !c.cached() || !c.near.usable() {
		found, err := c.Find(ctx, model.Lookup{VideoIDs: []int64{id}})
		if err != nil {
			return 0, err
		}
		if v, ok := found.Videos[id]; ok {
			return v.AuthorID, nil
		}
		return 0, model.ErrNotFound
	}
	key := c.k.author(id)
	if v, ok := c.near.get(key); ok {
		c.m.local("author", 1)
		return v.(int64), nil
	}
	chk := c.check(key)
	v, err := c.db.VideoByID(ctx, id)
	if err != nil {
		return 0, err
	}
	chk.keep(0, v.AuthorID)
	return v.AuthorID, nil
}

// objectRead is the part of a Find for one kind of row that the
// in-process layer could not answer.
type objectRead struct {
	*checked // the keys to read, in the order of ids
	kind     string
	ids      []int64
	perKey   bool // GET each key (a Cluster) instead of one MGET
	mget     *redis.SliceCmd
	gets     []*redis.StringCmd
}

// nearObjects answers what it can of ids from the in-process layer into
// out and returns the rest to read from Redis.
func nearObjects[T any](c *Cache, kind string, row rowKind, ids []int64, key func(int64) string, out map[int64]T) *objectRead {
	r := &objectRead{checked: c.check(), kind: kind, perKey: c.perKey}
	local := 0
	now := time.Now().UnixNano()
	for _, id := range ids {
		if v, ok := c.near.getRef(rowRef(row, id), now); ok {
			local++
			if value, ok := v.(T); ok {
				out[id] = value
			} // else the id is known not to exist
			continue
		}
		if slices.Contains(r.ids, id) {
			continue // a repeat: it is asked for once
		}
		r.ids = append(r.ids, id)
		r.add(key(id))
	}
	c.m.local(kind, local)
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

// decodeInto reads the MGET answer into out, keeps what it found in the
// in-process layer, and returns the ids Redis did not have (all of them
// when there is no Redis).
func decodeInto[T any](r *objectRead, c *Cache, cd codec[T], out map[int64]T) []int64 {
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
			r.keep(i, absentRow{})
			continue
		}
		v, err := cd.decode([]byte(s))
		if err != nil {
			miss = append(miss, r.ids[i]) // another version's value: reload it
			continue
		}
		out[r.ids[i]] = v
		r.keep(i, v)
	}
	c.m.count(r.kind, len(r.ids)-len(miss), len(miss))
	return miss
}

// absentRow is kept in the in-process layer for an id that does not exist.
type absentRow struct{}

// storeRows keeps rows loaded from the database in out and the in-process
// layer, and returns their write-back to Redis: each row, and an absent
// marker for every id the database did not have, so probing random ids
// does not reach it.
func storeRows[T any](ctx context.Context, c *Cache, r *objectRead, ids []int64, loaded loadedRows[T], key func(int64) string, cd codec[T], out map[int64]T) func(redis.Pipeliner) {
	rows := loaded.rows
	at := make(map[int64]int, len(r.ids)) // where r noted each id's key
	for i, id := range r.ids {
		at[id] = i
	}
	for _, id := range ids {
		if row, ok := rows[id]; ok {
			out[id] = row
			r.keep(at[id], row)
		} else {
			r.keep(at[id], absentRow{})
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
func loadRows[T any](ctx context.Context, c *Cache, kind string, r *objectRead, ids []int64, key func(int64) string, read func(context.Context, []int64) (map[int64]T, error)) (loadedRows[T], error) {
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
func (c *Cache) write(ctx context.Context, fill []func(redis.Pipeliner)) {
	if len(fill) == 0 || c.rdb == nil {
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
