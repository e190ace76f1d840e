package middleware

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tiktok-lite/server/test/testenv"
)

func TestLimiterAllowsBurstThenRefuses(t *testing.T) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	t.Cleanup(func() { rdb.Close() })
	prefix := "test:rl:" + testenv.RandomSuffix() + ":"
	t.Cleanup(func() { rdb.Del(ctx, "rate:"+prefix+"k", "rate:"+prefix+"other") })

	now := time.Unix(1700000000, 0)
	local := NewLimiter(5)
	local.now = func() time.Time { return now }
	// Two instances sharing Redis share one budget.
	a, b := NewRedisLimiter(rdb, prefix, 5), NewRedisLimiter(rdb, prefix, 5)

	for name, pair := range map[string][2]RateLimiter{"in-process": {local, local}, "redis, two instances": {a, b}} {
		allowed := 0
		for i := 0; i < 8; i++ {
			ok, err := pair[i%2].Allow(ctx, "k")
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if ok {
				allowed++
			}
		}
		if allowed != 5 {
			t.Errorf("%s: %d of 8 requests allowed at once, want the burst of 5", name, allowed)
		}
		if ok, err := pair[0].Allow(ctx, "other"); err != nil || !ok {
			t.Errorf("%s: another key was refused (%v); limits are per key", name, err)
		}
	}
	now = now.Add(13 * time.Second) // one token back at 5 a minute
	if ok, _ := local.Allow(ctx, "k"); !ok {
		t.Errorf("in-process: no request allowed after the refill interval")
	}
}
