package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-lite/server/pkg/mq"
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
	nodes := testenv.RedisCluster(t, 3)
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
