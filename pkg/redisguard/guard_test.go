package redisguard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/pkg/redisguard"
	"github.com/tiktok-lite/server/test/tcpproxy"
	"github.com/tiktok-lite/server/test/testenv"
)

const timeout = 200 * time.Millisecond

func client(t *testing.T, addr string, g *redisguard.Guard) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: timeout, ReadTimeout: timeout,
		WriteTimeout: timeout, PoolTimeout: timeout, MaxRetries: -1})
	rdb.AddHook(g)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// A request that makes many Redis calls while Redis is silent waits for
// one time-out, not one per call.
func TestSilentRedisCostsOneTimeout(t *testing.T) {
	proxy := tcpproxy.Start(t, testenv.RedisAddr(t))
	g := redisguard.New(time.Second, zap.NewNop())
	rdb := client(t, proxy.Addr(), g)
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	proxy.Blackhole()
	start := time.Now()
	var errs []error
	for i := 0; i < 10; i++ {
		errs = append(errs, rdb.Get(ctx, "k").Err())
		pipe := rdb.Pipeline()
		pipe.Get(ctx, "a")
		pipe.Get(ctx, "b")
		_, err := pipe.Exec(ctx)
		errs = append(errs, err)
	}
	took := time.Since(start)
	if took > 3*timeout {
		t.Errorf("20 calls to a silent Redis took %v, want about one time-out (%v)", took, timeout)
	}
	for i, err := range errs[1:] {
		if !errors.Is(err, redisguard.ErrDown) {
			t.Fatalf("call %d after the first time-out: %v, want ErrDown", i+2, err)
		}
	}
	if !g.Down() {
		t.Error("guard does not report Redis down")
	}
	proxy.Restore()
	deadline := time.Now().Add(5 * time.Second)
	for rdb.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("Redis not used again after the cool-down")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Answers from Redis, misses and error replies included, are not outages.
func TestAnswersDoNotTrip(t *testing.T) {
	g := redisguard.New(time.Minute, zap.NewNop())
	rdb := client(t, testenv.RedisAddr(t), g)
	ctx := context.Background()
	key := "test:guard:" + testenv.RandomSuffix()
	t.Cleanup(func() { rdb.Del(context.Background(), key) })
	if err := rdb.Get(ctx, key).Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("get a missing key: %v", err)
	}
	if err := rdb.Set(ctx, key, "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.LPush(ctx, key, "y").Err(); err == nil {
		t.Fatal("LPUSH on a string: want WRONGTYPE")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := rdb.Get(cctx, key).Err(); err == nil {
		t.Fatal("get with a cancelled context succeeded")
	}
	if g.Down() {
		t.Fatal("a miss, an error reply or a caller that left tripped the guard")
	}
}
