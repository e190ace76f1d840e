package middleware

import (
	"context"
	"net"
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
	local := NewLimiter(5, time.Minute)
	local.now = func() time.Time { return now }
	// Two instances sharing Redis share one budget.
	a, b := NewRedisLimiter(rdb, prefix, 5, time.Minute), NewRedisLimiter(rdb, prefix, 5, time.Minute)

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

func TestLimiterPerHour(t *testing.T) {
	now := time.Unix(1700000000, 0)
	l := NewLimiter(3, time.Hour)
	l.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow(context.Background(), "u"); !ok {
			t.Fatalf("request %d of the burst of 3 refused", i+1)
		}
	}
	if ok, _ := l.Allow(context.Background(), "u"); ok {
		t.Fatal("a 4th request within the hour was allowed")
	}
	now = now.Add(19 * time.Minute) // a token comes back every 20 minutes
	if ok, _ := l.Allow(context.Background(), "u"); ok {
		t.Fatal("a token came back before a third of the hour")
	}
	now = now.Add(2 * time.Minute)
	if ok, _ := l.Allow(context.Background(), "u"); !ok {
		t.Fatal("no token back after a third of the hour")
	}
}

// With Redis unreachable the limit still holds, per instance.
func TestFallbackHoldsTheLimitWhileRedisIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: every call is refused
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	lim := NewFallback(NewRedisLimiter(rdb, "test:rl:down:", 4, time.Minute), NewLimiter(4, time.Minute))
	allowed := 0
	for i := 0; i < 10; i++ {
		ok, err := lim.Allow(context.Background(), "k")
		if err != nil {
			t.Fatalf("fallback returned an error: %v", err)
		}
		if ok {
			allowed++
		}
	}
	if allowed != 4 {
		t.Errorf("%d of 10 requests allowed with Redis down, want the in-process burst of 4", allowed)
	}
}
