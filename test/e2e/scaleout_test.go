package e2e

import (
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
	suffix := testenv.RandomSuffix()
	amqpURL := testenv.AMQPURL(t)
	t.Cleanup(func() { testenv.DeleteBrokerTopology(t, mq.Config{URL: amqpURL, Name: "e2e.scale." + suffix}) })
	env := []string{
		"TIKTOK_DATABASE_DRIVER=mysql",
		"TIKTOK_DATABASE_DSN=" + testenv.MySQLDatabase(t),
		"TIKTOK_JWT_SECRET=" + strings.Repeat("shared-secret-", 3),
		"TIKTOK_REDIS_ADDR=" + testenv.RedisAddr(t),
		"TIKTOK_REDIS_PREFIX=e2e:scale:" + suffix + ":",
		"TIKTOK_RABBITMQ_URL=" + amqpURL,
		"TIKTOK_RABBITMQ_QUEUE=e2e.scale." + suffix,
	}
	one, two := start(t, "", env...), start(t, "", env...)

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
