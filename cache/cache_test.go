package cache_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiktok-lite/server/cache"
	"github.com/tiktok-lite/server/model"
	pkgapp "github.com/tiktok-lite/server/pkg/app"
	"github.com/tiktok-lite/server/pkg/config"
	"github.com/tiktok-lite/server/pkg/media"
	"github.com/tiktok-lite/server/pkg/mq"
	"github.com/tiktok-lite/server/service"
	"github.com/tiktok-lite/server/test/tcpproxy"
	"github.com/tiktok-lite/server/test/testenv"
)

// counters count what reached MySQL and Redis.
type counters struct {
	sql   atomic.Int64
	redis atomic.Int64 // round trips: one per command or pipeline
}

func (c *counters) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *counters) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.redis.Add(1); return next(ctx, cmd) }
}
func (c *counters) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.redis.Add(1); return next(ctx, cmds) }
}

func countSQL(t *testing.T, db *gorm.DB, n *atomic.Int64) {
	inc := func(*gorm.DB) { n.Add(1) }
	cb := db.Callback()
	for name, err := range map[string]error{
		"query":  cb.Query().After("gorm:query").Register("test:count", inc),
		"row":    cb.Row().After("gorm:row").Register("test:count", inc),
		"raw":    cb.Raw().After("gorm:raw").Register("test:count", inc),
		"create": cb.Create().After("gorm:create").Register("test:count", inc),
		"update": cb.Update().After("gorm:update").Register("test:count", inc),
		"delete": cb.Delete().After("gorm:delete").Register("test:count", inc),
	} {
		if err != nil {
			t.Fatalf("register %s callback: %v", name, err)
		}
	}
}

// node is one server's worth of layers over shared MySQL, Redis and RabbitMQ.
type node struct {
	db     *gorm.DB
	store  *model.Store
	cache  *cache.Redis
	broker *mq.Broker
	rdb    redis.UniversalClient
	users  *service.Users
	videos *service.Videos
	inter  *service.Interactions
	social *service.Social
	count  *counters
	dir    string
	core   *pkgapp.Core
	reg    *prometheus.Registry // the core's: what the broker counts
	dsn    string
	held   atomic.Pointer[heldQuery]
}

type nodeOpts struct {
	dsn, redisAddr, amqpURL, prefix, queue string
	cluster                                []string        // a Redis Cluster's nodes instead of redisAddr
	replica                                string          // a database.replicas DSN
	local                                  time.Duration   // LocalTTL: 0 leaves the in-process layer off
	secondDelete                           time.Duration   // 0: 100 ms
	retryDelays                            []time.Duration // nil: retryDelays
	flushEvery                             time.Duration   // 0: the default
}

func newNode(t *testing.T, o nodeOpts) *node {
	t.Helper()
	cfg := testenv.MySQLConfigFor(o.dsn)
	if o.replica != "" {
		cfg.Replicas = []string{o.replica}
	}
	db := testenv.OpenDB(t, cfg)
	n := &node{db: db, store: model.NewStore(db), count: &counters{}, dir: t.TempDir(), dsn: o.dsn}
	countSQL(t, db, &n.count.sql)
	holdQueries(t, n)
	if o.cluster != nil {
		n.rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: o.cluster, DialTimeout: 500 * time.Millisecond,
			ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond, MaxRetries: -1})
	} else {
		n.rdb = redis.NewClient(&redis.Options{Addr: o.redisAddr, DialTimeout: 200 * time.Millisecond,
			ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
	}
	n.rdb.AddHook(n.count)
	t.Cleanup(func() { n.rdb.Close() })

	delays := retryDelays
	if o.retryDelays != nil {
		delays = o.retryDelays
	}
	if o.secondDelete == 0 {
		o.secondDelete = 100 * time.Millisecond
	}
	c := testenv.AppConfig(t, cfg)
	c.Redis.Addr, c.Redis.Prefix, c.Redis.TTL, c.Cache.LocalTTL = "given", o.prefix, time.Hour, o.local
	c.RabbitMQ.URL, c.RabbitMQ.Queue = o.amqpURL, o.queue
	n.reg = prometheus.NewRegistry()
	n.core = newCore(t, c, pkgapp.Parts{DB: db, Redis: n.rdb, Registry: n.reg,
		Broker: func(mc *mq.Config) { mc.MaxAttempts, mc.RetryDelays = 50, delays },
		Cache: func(co *cache.Options) {
			co.SecondDelete, co.FlushEvery, co.DownFor = o.secondDelete, o.flushEvery, 50*time.Millisecond
		},
	})
	n.cache, n.broker, n.store = n.core.Cache, n.core.Broker, n.core.Store
	n.setServices(n.core)
	return n
}

// newCore builds the service graph of c as main does, closed at the end
// of t.
func newCore(t *testing.T, c *config.Config, p pkgapp.Parts) *pkgapp.Core {
	t.Helper()
	core, err := pkgapp.NewCore(context.Background(), c, "http://server.test", p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		closeCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		if err := core.Close(closeCtx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return core
}

// handled is how many retried deletes succeeded.
func (n *node) handled() int64 {
	families, err := n.reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		if f.GetName() == "tiktok_mq_consumed_total" {
			return int64(f.GetMetric()[0].GetCounter().GetValue())
		}
	}
	return 0
}

// setServices takes n's services from core.
func (n *node) setServices(core *pkgapp.Core) {
	svc := core.Services
	n.users, n.videos, n.inter, n.social = svc.Users, svc.Videos, svc.Interactions, svc.Social
}

// retryDelays are short so that the fault tests heal within seconds.
var retryDelays = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}

// layers runs a test with Redis alone and with the in-process layer in
// front of it: every guarantee must hold either way.
func layers(t *testing.T, test func(t *testing.T, o nodeOpts)) {
	for _, local := range []time.Duration{0, time.Hour} {
		name := "redis"
		if local > 0 {
			name = "in-process+redis"
		}
		t.Run(name, func(t *testing.T) {
			o := fixture(t)
			o.local = local
			test(t, o)
		})
	}
}

// TestOnARedisCluster runs the read and write guarantees on a real Redis
// Cluster of three masters, where a page's keys live in different hash
// slots: a multi-key command across slots is refused there (CROSSSLOT).
func TestOnARedisCluster(t *testing.T) {
	nodes := testenv.RedisCluster(t, 3, 0)
	for name, test := range map[string]func(*testing.T, nodeOpts){
		"warm reads": testWarmReadsRunNoSQL, "writes": testEveryWriteIsVisibleAtOnce,
	} {
		for _, local := range []time.Duration{0, time.Hour} {
			t.Run(fmt.Sprintf("%s/local=%v", name, local > 0), func(t *testing.T) {
				o := fixture(t)
				o.cluster, o.local = nodes, local
				test(t, o)
			})
		}
	}
}

// TestFillsReadThePrimary: with database.replicas, what the cache keeps is
// loaded from the primary. The "replica" here is a migrated database that
// never receives a write, the worst lag there is: a value loaded from it
// would be kept, wrong, for the whole TTL.
func TestFillsReadThePrimary(t *testing.T) {
	layers(t, func(t *testing.T, o nodeOpts) {
		o.replica = testenv.MySQLDatabase(t)
		testenv.OpenDB(t, testenv.MySQLConfigFor(o.replica)) // the schema, no rows
		n := newNode(t, o)
		waitLocal(t, n, o)
		ctx := context.Background()
		s, err := n.users.Register(ctx, "writer", "secret1")
		must(t, err)
		u, err := n.users.Profile(ctx, s.UserID, s.UserID)
		if err != nil || u.ID != s.UserID {
			t.Fatalf("the writer's own profile right after register: %v, %v", u, err)
		}
		v, err := n.videos.Publish(ctx, s.UserID, "first", sampleUpload(t, n))
		must(t, err)
		must(t, n.inter.Like(ctx, s.UserID, v.ID))
		page, err := n.videos.Feed(ctx, s.UserID, 0)
		must(t, err)
		if len(page.Videos) != 1 || page.Videos[0].FavoriteCount != 1 || !page.Videos[0].IsFavorite {
			t.Fatalf("the feed right after publish and like: %+v", page.Videos)
		}
		if u, err = n.users.Profile(ctx, s.UserID, s.UserID); err != nil || u.FavoriteCount != 1 || u.WorkCount != 1 {
			t.Fatalf("the writer's counts after publish and like: %+v, %v", u, err)
		}
	})
}

// waitLocal waits until n's in-process layer serves, when it has one.
func waitLocal(t *testing.T, n *node, o nodeOpts) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for o.local > 0 && !n.localLive() {
		if time.Now().After(deadline) {
			t.Fatal("the in-process layer did not come up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fixture is one MySQL database, Redis prefix and queue for a test.
func fixture(t *testing.T) nodeOpts {
	suffix := testenv.RandomSuffix()
	o := nodeOpts{
		dsn:       testenv.MySQLDatabase(t),
		redisAddr: testenv.RedisAddr(t),
		amqpURL:   testenv.AMQPURL(t),
		prefix:    "test:" + suffix + ":",
		queue:     "test.cache." + suffix,
	}
	t.Cleanup(func() {
		cleanRedis(t, o.redisAddr, o.prefix)
		testenv.DeleteBrokerTopology(t, mq.Config{URL: o.amqpURL, Name: o.queue, RetryDelays: retryDelays})
	})
	return o
}

func cleanRedis(t *testing.T, addr, prefix string) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("clean redis: %v", err)
	}
}

// world is a small data set: users, videos, likes, follows and comments.
type world struct {
	users  []int64
	videos []*model.Video
}

// sampleUpload is the sample clip as an upload spooled in n's directory.
func sampleUpload(t *testing.T, n *node) service.Upload {
	t.Helper()
	path := filepath.Join(n.dir, "clip.mp4")
	if err := os.WriteFile(path, media.SampleVideo(), 0o600); err != nil {
		t.Fatal(err)
	}
	return service.Upload{Path: path, Size: int64(len(media.SampleVideo()))}
}

func seed(t *testing.T, n *node) world {
	t.Helper()
	ctx := context.Background()
	var w world
	for i := 0; i < 5; i++ {
		s, err := n.users.Register(ctx, fmt.Sprintf("user%d", i), "secret1")
		if err != nil {
			t.Fatal(err)
		}
		w.users = append(w.users, s.UserID)
	}
	up := sampleUpload(t, n)
	for i := 0; i < 6; i++ {
		v, err := n.videos.Publish(ctx, w.users[i%3], fmt.Sprintf("clip %d", i), up)
		if err != nil {
			t.Fatal(err)
		}
		w.videos = append(w.videos, v)
	}
	must(t, n.inter.Like(ctx, w.users[3], w.videos[0].ID))
	must(t, n.inter.Like(ctx, w.users[3], w.videos[4].ID))
	must(t, n.social.Follow(ctx, w.users[3], w.users[0]))
	must(t, n.social.Follow(ctx, w.users[0], w.users[3]))
	if _, err := n.inter.AddComment(ctx, w.users[4], w.videos[0].ID, "nice"); err != nil {
		t.Fatal(err)
	}
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot is every read a client makes, as viewer sees it.
type snapshot struct {
	Feed      *service.FeedPage
	Profiles  []*service.User
	Published [][]service.Video
	Favorites [][]service.Video
	Comments  [][]service.Comment
	Following [][]service.User
	Followers [][]service.User
	Friends   []service.FriendUser
}

func read(t *testing.T, n *node, w world, viewer int64) snapshot {
	t.Helper()
	ctx := context.Background()
	var s snapshot
	var err error
	if s.Feed, err = n.videos.Feed(ctx, viewer, 0); err != nil {
		t.Fatal(err)
	}
	s.Feed.NextTime = 0 // "now" when empty; not a cached value
	for _, id := range w.users {
		p, err := n.users.Profile(ctx, viewer, id)
		must(t, err)
		s.Profiles = append(s.Profiles, p)
		pub, err := n.videos.PublishList(ctx, viewer, id)
		must(t, err)
		s.Published = append(s.Published, pub)
		fav, err := n.inter.FavoriteList(ctx, viewer, id)
		must(t, err)
		s.Favorites = append(s.Favorites, fav)
		fl, err := n.social.FollowList(ctx, viewer, id)
		must(t, err)
		s.Following = append(s.Following, fl)
		fr, err := n.social.FollowerList(ctx, viewer, id)
		must(t, err)
		s.Followers = append(s.Followers, fr)
	}
	for _, v := range w.videos {
		cl, err := n.inter.CommentList(ctx, viewer, v.ID)
		must(t, err)
		s.Comments = append(s.Comments, cl)
	}
	if viewer != 0 {
		if s.Friends, err = n.social.FriendList(ctx, viewer, viewer); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// truth is the same reads straight from the database.
func truth(t *testing.T, n *node, w world, viewer int64) snapshot {
	t.Helper()
	direct := &node{store: n.store, dir: n.dir}
	direct.setServices(newCore(t, testenv.AppConfig(t, testenv.MySQLConfigFor(n.dsn)), pkgapp.Parts{DB: n.db}))
	return read(t, direct, w, viewer)
}

// fresh fails t unless every cached read equals the database's answer, for
// a guest and for every user.
func fresh(t *testing.T, n *node, w world) {
	t.Helper()
	for _, viewer := range append([]int64{0}, w.users...) {
		got, want := read(t, n, w, viewer), truth(t, n, w, viewer)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("viewer %d sees stale data:\n got %+v\nwant %+v", viewer, got, want)
		}
	}
}

func TestWarmReadsRunNoSQL(t *testing.T) { layers(t, testWarmReadsRunNoSQL) }

func testWarmReadsRunNoSQL(t *testing.T, o nodeOpts) {
	n := newNode(t, o)
	w := seed(t, n)
	ctx := context.Background()
	viewer := w.users[3]
	time.Sleep(300 * time.Millisecond) // let the second deletes of the seed pass
	waitLocal(t, n, o)

	for _, tt := range []struct {
		name     string
		maxRedis int64
		read     func() error
	}{
		{"feed", 2, func() error { _, err := n.videos.Feed(ctx, viewer, 0); return err }},
		{"user info", 1, func() error { _, err := n.users.Profile(ctx, viewer, w.users[0]); return err }},
		{"publish list", 2, func() error { _, err := n.videos.PublishList(ctx, viewer, w.users[0]); return err }},
		{"favorite list", 2, func() error { _, err := n.inter.FavoriteList(ctx, viewer, viewer); return err }},
		{"comment list", 2, func() error { _, err := n.inter.CommentList(ctx, viewer, w.videos[0].ID); return err }},
		{"follower list", 2, func() error { _, err := n.social.FollowerList(ctx, viewer, w.users[0]); return err }},
	} {
		must(t, tt.read()) // warm it
		n.count.sql.Store(0)
		n.count.redis.Store(0)
		must(t, tt.read())
		if got := n.count.sql.Load(); got != 0 {
			t.Errorf("warm %s ran %d SQL statements, want 0", tt.name, got)
		}
		if o.local > 0 {
			// Everything the page needs is held in process.
			if got := n.count.redis.Load(); got != 0 {
				t.Errorf("warm %s took %d Redis round trips, want 0", tt.name, got)
			}
		} else if got := n.count.redis.Load(); got < 1 || got > tt.maxRedis {
			t.Errorf("warm %s took %d Redis round trips, want 1..%d", tt.name, got, tt.maxRedis)
		}
	}

	// An id that does not exist is cached as absent: probing it again
	// does not reach MySQL.
	if _, err := n.users.Profile(ctx, 0, 424242); err == nil {
		t.Fatal("profile of unknown id succeeded")
	}
	n.count.sql.Store(0)
	for i := 0; i < 5; i++ {
		if _, err := n.users.Profile(ctx, 0, 424242); err == nil {
			t.Fatal("profile of unknown id succeeded")
		}
	}
	if got := n.count.sql.Load(); got != 0 {
		t.Errorf("probing an absent id ran %d SQL statements, want 0", got)
	}
	// Registering that id later must not be hidden by the marker.
	fresh(t, n, w)
}

func TestEveryWriteIsVisibleAtOnce(t *testing.T) { layers(t, testEveryWriteIsVisibleAtOnce) }

func testEveryWriteIsVisibleAtOnce(t *testing.T, o nodeOpts) {
	n := newNode(t, o)
	w := seed(t, n)
	ctx := context.Background()
	waitLocal(t, n, o)
	a, b, c := w.users[1], w.users[2], w.users[4]
	fresh(t, n, w) // warm every key

	steps := []struct {
		name string
		do   func() error
	}{
		{"like", func() error { return n.inter.Like(ctx, a, w.videos[2].ID) }},
		{"like again", func() error { return n.inter.Like(ctx, a, w.videos[2].ID) }},
		{"unlike", func() error { return n.inter.Unlike(ctx, w.users[3], w.videos[0].ID) }},
		{"comment", func() error { _, err := n.inter.AddComment(ctx, b, w.videos[2].ID, "hello"); return err }},
		{"follow", func() error { return n.social.Follow(ctx, a, b) }},
		{"follow back", func() error { return n.social.Follow(ctx, b, a) }},
		{"unfollow", func() error { return n.social.Unfollow(ctx, w.users[0], w.users[3]) }},
		{"publish", func() error {
			path := filepath.Join(n.dir, "clip.mp4")
			_, err := n.videos.Publish(ctx, c, "new one", service.Upload{Path: path, Size: int64(len(media.SampleVideo()))})
			return err
		}},
	}
	for _, st := range steps {
		must(t, st.do())
		// The very next read, of the writer and of everyone else.
		fresh(t, n, w)
	}
}

func TestRedisCutFallsBackAndHealsThroughRabbitMQ(t *testing.T) {
	layers(t, testRedisCutFallsBackAndHealsThroughRabbitMQ)
}

func testRedisCutFallsBackAndHealsThroughRabbitMQ(t *testing.T, o nodeOpts) {
	n, w, proxy := writeWhileRedisIsCut(t, o)
	ctx := context.Background()
	// A retry that meets Redis away says so, and does not count towards
	// parking: parking is for deletes that fail with Redis up.
	if err := n.cache.HandleRetry(ctx, []byte(`["`+o.prefix+`some:key"]`)); !mq.Unavailable(err) {
		t.Errorf("a retried delete with Redis cut returned %v, want an error mq.Unavailable reports", err)
	}
	// Reads keep working, from MySQL, and see the writes.
	fresh(t, n, w)
	if n.handled() != 0 {
		t.Fatalf("%d retried deletes succeeded while Redis was cut", n.handled())
	}

	proxy.Restore()
	deadline := time.Now().Add(15 * time.Second)
	for n.handled() == 0 || n.broker.Pending() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("retried deletes did not land: handled %d, pending %d", n.handled(), n.broker.Pending())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Let every queued retry finish, then Redis must hold nothing stale.
	time.Sleep(time.Second)
	fresh(t, n, w)
}

// TestFailedDeletesComeFirstWhenRedisReturns: Redis is cut, writes are
// made (their deletes fail and wait for a retry a minute away, and the
// second deletes fail too), and Redis comes back. Before the failed
// deletes are applied, reads must not take the old values Redis still
// holds (the flusher held off); and the flusher applies them within a
// second, long before the retry, with no read's help.
func TestFailedDeletesComeFirstWhenRedisReturns(t *testing.T) {
	layers(t, func(t *testing.T, layer nodeOpts) {
		own := func(t *testing.T) nodeOpts { // a database, prefix and queue of its own
			o := fixture(t)
			o.local = layer.local
			return o
		}
		t.Run("read before the flush", func(t *testing.T) {
			o := own(t)
			o.flushEvery = time.Hour
			n, w := failDeletes(t, o)
			fresh(t, n, w)
		})
		t.Run("flush", func(t *testing.T) {
			o := own(t)
			n, w := failDeletes(t, o)
			ctx := context.Background()
			stale := []string{o.prefix + "v:" + strconv.FormatInt(w.videos[1].ID, 10), o.prefix + "u:" + strconv.FormatInt(w.users[1], 10),
				o.prefix + "cmt:" + strconv.FormatInt(w.videos[1].ID, 10), o.prefix + "follows:" + strconv.FormatInt(w.users[2], 10)}
			deadline := time.Now().Add(time.Second)
			for {
				left, err := n.rdb.Exists(ctx, stale...).Result()
				if err == nil && left == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("a second after Redis came back it still holds %d of the keys the writes made stale (%v)", left, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			fresh(t, n, w)
		})
	})
}

// failDeletes writes while Redis is cut (every delete fails) and brings
// Redis back past the guard's cool-down.
func failDeletes(t *testing.T, o nodeOpts) (*node, world) {
	o.retryDelays = []time.Duration{time.Minute}
	n, w, proxy := writeWhileRedisIsCut(t, o)
	time.Sleep(300 * time.Millisecond) // the second deletes fail too
	proxy.Restore()
	time.Sleep(100 * time.Millisecond) // past the guard's cool-down (50 ms here)
	return n, w
}

// writeWhileRedisIsCut caches everything, cuts Redis, and likes, follows
// and comments; Redis stays cut.
func writeWhileRedisIsCut(t *testing.T, o nodeOpts) (*node, world, *tcpproxy.Proxy) {
	t.Helper()
	proxy := tcpproxy.Start(t, o.redisAddr)
	o.redisAddr = proxy.Addr()
	n := newNode(t, o)
	w := seed(t, n)
	ctx := context.Background()
	time.Sleep(300 * time.Millisecond)
	fresh(t, n, w) // every key cached

	proxy.Cut()
	must(t, n.inter.Like(ctx, w.users[1], w.videos[1].ID))
	must(t, n.social.Follow(ctx, w.users[2], w.users[1]))
	if _, err := n.inter.AddComment(ctx, w.users[1], w.videos[1].ID, "while redis was away"); err != nil {
		t.Fatal(err)
	}
	return n, w, proxy
}

func TestRabbitMQCutBuffersDeletes(t *testing.T) { layers(t, testRabbitMQCutBuffersDeletes) }

func testRabbitMQCutBuffersDeletes(t *testing.T, o nodeOpts) {
	redisProxy := tcpproxy.Start(t, o.redisAddr)
	amqpProxy := tcpproxy.Start(t, strings.TrimSuffix(strings.SplitN(o.amqpURL, "@", 2)[1], "/"))
	o.redisAddr = redisProxy.Addr()
	o.amqpURL = "amqp://guest:guest@" + amqpProxy.Addr() + "/"
	n := newNode(t, o)
	w := seed(t, n)
	ctx := context.Background()
	time.Sleep(300 * time.Millisecond)
	fresh(t, n, w)

	amqpProxy.Cut()
	redisProxy.Cut()
	must(t, n.inter.Like(ctx, w.users[2], w.videos[3].ID))
	must(t, n.social.Follow(ctx, w.users[4], w.users[2]))
	deadline := time.Now().Add(5 * time.Second)
	for n.broker.Pending() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("failed deletes were not buffered while RabbitMQ was cut")
		}
		time.Sleep(20 * time.Millisecond)
	}
	fresh(t, n, w) // from MySQL meanwhile

	amqpProxy.Restore()
	redisProxy.Restore()
	deadline = time.Now().Add(20 * time.Second)
	for n.broker.Pending() > 0 || n.handled() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("buffered deletes did not land: pending %d handled %d", n.broker.Pending(), n.handled())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	fresh(t, n, w)
}

func TestTwoInstancesShareRedis(t *testing.T) { layers(t, testTwoInstancesShareRedis) }

func testTwoInstancesShareRedis(t *testing.T, o nodeOpts) {
	one, two := newNode(t, o), newNode(t, o)
	w := seed(t, one)
	ctx := context.Background()
	waitLocal(t, two, o)
	fresh(t, two, w) // two caches everything
	must(t, one.inter.Like(ctx, w.users[0], w.videos[5].ID))
	must(t, one.social.Follow(ctx, w.users[1], w.users[4]))
	if o.local == 0 {
		fresh(t, two, w) // Redis alone: two sees one's writes at once
		return
	}
	// In process, two drops the keys when one's delete message arrives.
	freshWithin(t, two, w, time.Second)
}

// freshWithin waits until every read of n is fresh, failing t past d.
func freshWithin(t *testing.T, n *node, w world, d time.Duration) {
	t.Helper()
	start := time.Now()
	for pass := 1; ; pass++ {
		stale := false
		for _, viewer := range append([]int64{0}, w.users...) {
			if !reflect.DeepEqual(read(t, n, w, viewer), truth(t, n, w, viewer)) {
				stale = true
				break
			}
		}
		if !stale {
			t.Logf("fresh on read pass %d, %v after the writes", pass, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > d {
			fresh(t, n, w) // fails with the difference
			t.Fatalf("still stale after %v", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An instance that loses the invalidation feed stops serving from its
// in-process layer, and forgets it, since deletes may be published while
// it cannot hear them.
func TestLostFeedTurnsTheLayerOff(t *testing.T) {
	for _, fault := range []string{"cut", "blackhole"} {
		t.Run(fault, func(t *testing.T) {
			o := fixture(t)
			o.local = time.Hour
			one := newNode(t, o)
			w := seed(t, one)
			proxy := tcpproxy.Start(t, o.redisAddr)
			o.redisAddr = proxy.Addr()
			two := newNode(t, o)
			ctx := context.Background()
			waitLocal(t, two, o)
			fresh(t, two, w) // two holds everything in process

			if fault == "cut" {
				proxy.Cut()
			} else {
				proxy.Blackhole()
			}
			must(t, one.inter.Like(ctx, w.users[2], w.videos[1].ID))
			must(t, one.social.Follow(ctx, w.users[2], w.users[4]))
			// Cut, two hears of it at once; silent, within two feed checks.
			// Either way it then reads the database, and sees the writes.
			freshWithin(t, two, w, 5*time.Second)
			// Reads may be fresh sooner (a Redis time-out sends them to the
			// database); the layer itself turns off within two feed checks.
			for start := time.Now(); two.localLive(); time.Sleep(10 * time.Millisecond) {
				if time.Since(start) > 5*time.Second {
					t.Fatal("the in-process layer still serves without its feed")
				}
			}

			proxy.Restore()
			waitLocal(t, two, o)
			fresh(t, two, w)
			must(t, one.inter.Unlike(ctx, w.users[2], w.videos[1].ID))
			freshWithin(t, two, w, time.Second)
		})
	}
}

// localLive reports whether n's in-process layer serves.
func (n *node) localLive() bool { return n.core.Local != nil && n.core.Local.Live() }
