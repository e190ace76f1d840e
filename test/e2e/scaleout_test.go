package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	mysqldsn "github.com/go-sql-driver/mysql"

	"github.com/tiktok-lite/server/pkg/mq"
	"github.com/tiktok-lite/server/test/tcpproxy"
	"github.com/tiktok-lite/server/test/testenv"
)

// Two instances behind one address share MySQL, Redis and RabbitMQ: a write
// through one is seen through the other, with both caches warm.
func TestTwoInstancesSeeEachOthersWrites(t *testing.T) {
	env := sharedEnv(t, "scale", testenv.RedisAddr(t))
	one, two := start(t, "", env...), start(t, "", env...)
	seeEachOthersWrites(t, one, two)
}

// sharedEnv is the settings of instances that share one MySQL database,
// the Redis at redisAddr under a fresh prefix, RabbitMQ queues and a JWT
// secret, as instances behind one load balancer do.
func sharedEnv(t *testing.T, name, redisAddr string) []string {
	t.Helper()
	suffix := testenv.RandomSuffix()
	amqpURL := testenv.AMQPURL(t)
	queue := "e2e." + name + "." + suffix
	t.Cleanup(func() { testenv.DeleteBrokerTopology(t, mq.Config{URL: amqpURL, Name: queue}) })
	return []string{
		"TIKTOK_DATABASE_DRIVER=mysql",
		"TIKTOK_DATABASE_DSN=" + testenv.MySQLDatabase(t),
		"TIKTOK_JWT_SECRET=" + strings.Repeat("shared-secret-", 3),
		"TIKTOK_REDIS_ADDR=" + redisAddr,
		"TIKTOK_REDIS_PREFIX=e2e:" + name + ":" + suffix + ":",
		"TIKTOK_RABBITMQ_URL=" + amqpURL,
		"TIKTOK_RABBITMQ_QUEUE=" + queue,
	}
}

// seeEachOthersWrites writes through one instance and through the other,
// with both caches warm, and wants both to show every write within a
// second.
func seeEachOthersWrites(t *testing.T, one, two *server) {
	t.Helper()

	alice, aliceToken := one.register(t, "alice", "secret1")
	_, bobToken := two.register(t, "bob", "secret1") // tokens work on either instance
	r := one.upload(t, map[string]string{"token": aliceToken, "title": "shared"}, "clip.mp4", mediaSample())
	wantCode(t, "publish on one", r, 0)

	views := func(s *server) (int64, int64) {
		feed := s.get(t, "/douyin/feed/", url.Values{"token": {bobToken}}).List("video_list")
		if len(feed) != 1 {
			t.Fatalf("feed through %s has %d videos, want 1", s.base, len(feed))
		}
		u := s.get(t, "/douyin/user/", url.Values{"user_id": {itoa(alice)}, "token": {bobToken}}).Obj("user")
		return feed[0].Int("favorite_count"), u.Int("follower_count")
	}
	for _, s := range []*server{one, two} { // warm both caches
		if likes, followers := views(s); likes != 0 || followers != 0 {
			t.Fatalf("fresh counts %d likes, %d followers", likes, followers)
		}
	}
	videoID := two.get(t, "/douyin/feed/", nil).List("video_list")[0].Int("id")
	wantCode(t, "like through two", two.post(t, "/douyin/favorite/action/",
		url.Values{"token": {bobToken}, "video_id": {itoa(videoID)}, "action_type": {"1"}}), 0)
	wantCode(t, "follow through one", one.post(t, "/douyin/relation/action/",
		url.Values{"token": {bobToken}, "to_user_id": {itoa(alice)}, "action_type": {"1"}}), 0)
	// Each instance drops what the other's writes made stale from its
	// in-process cache when the delete's Redis message arrives: on one
	// host, well within the first read pass.
	for _, s := range []*server{one, two} {
		start := time.Now()
		for pass := 1; ; pass++ {
			likes, followers := views(s)
			if likes == 1 && followers == 1 {
				t.Logf("through %s: fresh on read pass %d", s.base, pass)
				break
			}
			if time.Since(start) > time.Second {
				t.Fatalf("through %s a second after the writes: %d likes, %d followers; want 1 and 1", s.base, likes, followers)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// A Redis Cluster reached through one node's address is found to be a
// Cluster, and the cache works on it: ready, no Redis errors, no delete
// sent to the retry queue, reads answered by Redis, and two instances
// see each other's writes. Several plain servers are refused.
func TestRedisClusterFromOneNodesAddress(t *testing.T) {
	nodes := testenv.RedisCluster(t, 3, 0)
	env := sharedEnv(t, "cluster", nodes[0])
	one, two := start(t, "", env...), start(t, "", env...)
	for _, s := range []*server{one, two} {
		found := false
		for _, e := range s.logs.Entries() {
			found = found || e["msg"] == "redis" && e["topology"] == "cluster"
		}
		if !found {
			t.Errorf("%s did not find the Cluster behind one node's address:\n%s", s.base, s.logs)
		}
		resp, err := http.Get(s.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"redis":"ok"`) {
			t.Fatalf("/readyz on the Cluster: HTTP %d %s", resp.StatusCode, body)
		}
	}
	seeEachOthersWrites(t, one, two)
	for _, s := range []*server{one, two} {
		m := scrape(t, s)
		for _, name := range []string{"tiktok_cache_redis_errors_total", "tiktok_cache_delete_retries_total"} {
			for _, line := range m[name] {
				if !strings.HasSuffix(line, " 0") {
					t.Errorf("%s on the Cluster: %s, want 0", s.base, line)
				}
			}
		}
		hits := false
		for _, line := range m["tiktok_cache_hits_total"] {
			if strings.Contains(line, `layer="redis"`) && !strings.HasSuffix(line, " 0") {
				hits = true
			}
		}
		if !hits && !strings.Contains(strings.Join(m["tiktok_cache_hits_total"], "\n"), `layer="local"`) {
			t.Errorf("%s: no cache hit on the Cluster:\n%s", s.base, strings.Join(m["tiktok_cache_hits_total"], "\n"))
		}
	}

	plain := testenv.RedisAddr(t)
	cfg := writeConfig(t, t.TempDir(), "data_dir: "+t.TempDir()+"\nredis:\n  addr: "+plain+","+plain+"\n")
	if out, err := command(t, "--config", cfg); err == nil || !strings.Contains(out, "not a Cluster node") {
		t.Errorf("two plain Redis addresses: %v\n%s", err, out)
	}
}

// After kill -9 of the Cluster master that carries the invalidation
// channel, once a replica has taken its place, the cache works again at
// once and stays working under traffic: go-redis would keep sending the
// dead master's slots to it until its next periodic reload (every 10 s),
// each refused connection switching the cache off for a second. /readyz
// is not asked until the end, as reading it refreshes the slot map too.
func TestRedisClusterFailover(t *testing.T) {
	nodes := testenv.RedisCluster(t, 3, 1)
	env := sharedEnv(t, "failover", nodes[0])
	s := start(t, "", env...)
	everyRoute := everyRouteChecker(t, s)
	everyRoute("before the failover")

	channel := ""
	for _, kv := range env {
		if prefix, ok := strings.CutPrefix(kv, "TIKTOK_REDIS_PREFIX="); ok {
			channel = prefix + "invalidate"
		}
	}
	dead, pid := testenv.ClusterMaster(t, nodes, channel)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testenv.WaitCluster(t, nodes, dead, 60*time.Second)
	trips := func() int { return strings.Count(s.logs.String(), "redis unavailable, skipping it for a while") }
	traffic := func(phase string, d time.Duration) {
		for began := time.Now(); time.Since(began) < d; {
			everyRoute(phase)
		}
	}
	traffic("right after the failover", 1500*time.Millisecond) // one more refused call may reload the map
	before := trips()
	traffic("after the failover", 3*time.Second)
	if n := trips() - before; n != 0 {
		t.Errorf("after the failover the cache switched off %d more times in 3 s:\n%s", n, s.logs)
	}
	if code := readyzStatus(t, s); code != 200 {
		t.Errorf("/readyz after the failover: HTTP %d", code)
	}
}

// With Redis, a replica feeds no API read: what the cache keeps comes
// from the primary, and what must be newest reads the primary. The
// "replica" here is an empty database without even the schema, reached
// through a proxy, so a read sent to it would fail loudly; it is then cut
// off altogether, and every route still answers, fresh.
func TestReplicaOutageOnTheFullStack(t *testing.T) {
	cfg, err := mysqldsn.ParseDSN(testenv.MySQLDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := tcpproxy.Start(t, cfg.Addr)
	cfg.Addr = proxy.Addr()
	s := start(t, "", append(sharedEnv(t, "replica", testenv.RedisAddr(t)), "TIKTOK_DATABASE_REPLICAS="+cfg.FormatDSN())...)

	everyRoute := everyRouteChecker(t, s)
	everyRoute("replica up")
	proxy.Cut()
	everyRoute("replica cut")
	resp, err := http.Get(s.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/readyz with the replica cut: HTTP %d", resp.StatusCode)
	}
}

// everyRouteChecker registers two users on s and publishes a video, and
// returns a check that writes through every write route and wants every
// read route to show all the writes so far, at once.
func everyRouteChecker(t *testing.T, s *server) func(phase string) {
	t.Helper()
	alice, aliceToken := s.register(t, "alice", "secret1")
	bob, bobToken := s.register(t, "bob", "secret1")
	wantCode(t, "publish", s.upload(t, map[string]string{"token": aliceToken, "title": "clip"}, "clip.mp4", mediaSample()), 0)
	first := func(phase string, list []reply) reply {
		if len(list) != 1 {
			t.Fatalf("%s: the feed holds %d videos, want 1", phase, len(list))
		}
		return list[0]
	}
	video := first("after publish", s.get(t, "/douyin/feed/", nil).List("video_list")).Int("id")

	round := 0
	return func(phase string) {
		round++
		post := func(path string, p url.Values) { wantCode(t, phase+" "+path, s.post(t, path, p), 0) }
		post("/douyin/favorite/action/", url.Values{"token": {bobToken}, "video_id": {itoa(video)}, "action_type": {"1"}})
		post("/douyin/comment/action/", url.Values{"token": {bobToken}, "video_id": {itoa(video)}, "action_type": {"1"}, "comment_text": {fmt.Sprintf("comment %d", round)}})
		post("/douyin/relation/action/", url.Values{"token": {bobToken}, "to_user_id": {itoa(alice)}, "action_type": {"1"}})
		post("/douyin/relation/action/", url.Values{"token": {aliceToken}, "to_user_id": {itoa(bob)}, "action_type": {"1"}})
		post("/douyin/message/action/", url.Values{"token": {bobToken}, "to_user_id": {itoa(alice)}, "action_type": {"1"}, "content": {fmt.Sprintf("hi %d", round)}})

		get := func(path string, p url.Values) reply {
			r := s.get(t, path, p)
			wantCode(t, phase+" "+path, r, 0)
			return r
		}
		if v := first(phase, get("/douyin/feed/", url.Values{"token": {bobToken}}).List("video_list")); v.Int("favorite_count") != 1 || v.Int("comment_count") != int64(round) {
			t.Errorf("%s: the feed shows %d likes and %d comments, want 1 and %d", phase, v.Int("favorite_count"), v.Int("comment_count"), round)
		}
		if u := get("/douyin/user/", url.Values{"user_id": {itoa(alice)}, "token": {bobToken}}).Obj("user"); u.Int("follower_count") != 1 || u.Int("total_favorited") != 1 {
			t.Errorf("%s: alice has %d followers and %d likes received, want 1 and 1", phase, u.Int("follower_count"), u.Int("total_favorited"))
		}
		who := url.Values{"user_id": {itoa(bob)}, "token": {bobToken}}
		for _, path := range []string{"/douyin/publish/list/", "/douyin/favorite/list/", "/douyin/relation/follow/list/", "/douyin/relation/follower/list/", "/douyin/relation/friend/list/"} {
			get(path, who)
		}
		if n := len(get("/douyin/comment/list/", url.Values{"video_id": {itoa(video)}}).List("comment_list")); n != round {
			t.Errorf("%s: %d comments listed, want %d", phase, n, round)
		}
		if n := len(get("/douyin/message/chat/", url.Values{"to_user_id": {itoa(alice)}, "token": {bobToken}}).List("message_list")); n != round {
			t.Errorf("%s: %d messages in the chat, want %d", phase, n, round)
		}
	}
}

// Without Redis the replicas take the reads, and a writing instance still
// reads its own writes: with a real GTID replica following, then held
// behind (it receives but applies nothing), then caught up, then killed,
// every write route's effect shows on every read route at once, and
// /readyz names the replica degraded, not the instance down.
func TestReplicasWithoutRedis(t *testing.T) {
	primary, replica := testenv.MariaDBPair(t)
	name := primary.Database(t)
	replica.WaitFor(t, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '"+name+"'", 10*time.Second)
	s := start(t, "",
		"TIKTOK_DATABASE_DRIVER=mysql",
		"TIKTOK_DATABASE_DSN="+primary.DSN(name),
		"TIKTOK_DATABASE_REPLICAS="+replica.DSN(name),
		"TIKTOK_DATABASE_REPLICA_MAX_LAG=300ms",
		"TIKTOK_JWT_SECRET="+strings.Repeat("replica-secret-", 3))
	replicas := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get(s.base + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(body), `"replicas":"`+want+`"`) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz: HTTP %d %s; want 200 with the replicas %s", resp.StatusCode, body, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	replicas("ok")
	everyRoute := everyRouteChecker(t, s)
	everyRoute("replica following")

	replica.Exec(t, "STOP SLAVE SQL_THREAD")
	everyRoute("replica held behind")
	replicas("degraded")
	everyRoute("replica behind the bound")

	replica.Exec(t, "START SLAVE SQL_THREAD")
	replicas("ok")
	everyRoute("replica caught up")

	replica.Kill()
	everyRoute("replica killed")
	replicas("degraded")
}
