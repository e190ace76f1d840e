package middleware

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/tiktok-lite/server/pkg/errcode"
	"github.com/tiktok-lite/server/pkg/response"
)

// RateLimiter decides whether key may make one more request now.
type RateLimiter interface {
	Allow(ctx context.Context, key string) (bool, error)
}

// Limiter allows each key n requests per period with a burst of the same
// size, in this process.
type Limiter struct {
	mu      sync.Mutex
	n       int
	per     time.Duration
	buckets map[string]*bucket
	now     func() time.Time
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewLimiter allows n requests per period per key.
func NewLimiter(n int, per time.Duration) *Limiter {
	return &Limiter{n: n, per: per, buckets: map[string]*bucket{}, now: time.Now}
}

// Allow reports whether key may make one more request now.
func (l *Limiter) Allow(_ context.Context, key string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.swept) > l.per {
		// Idle keys are full again after a period; forgetting them keeps
		// the map from growing with every address ever seen.
		for k, b := range l.buckets {
			if now.Sub(b.seen) > l.per {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(float64(l.n)/l.per.Seconds()), l.n)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1), nil
}

// RedisLimiter is the same limit kept in Redis (GCRA, redis_rate), so that
// it holds across every instance behind the load balancer.
type RedisLimiter struct {
	lim    *redis_rate.Limiter
	limit  redis_rate.Limit
	prefix string
}

// NewRedisLimiter allows n requests per period per key across all
// instances sharing rdb.
func NewRedisLimiter(rdb redis.UniversalClient, prefix string, n int, per time.Duration) *RedisLimiter {
	return &RedisLimiter{lim: redis_rate.NewLimiter(rdb), limit: redis_rate.Limit{Rate: n, Burst: n, Period: per}, prefix: prefix}
}

// Allow reports whether key may make one more request now.
func (l *RedisLimiter) Allow(ctx context.Context, key string) (bool, error) {
	res, err := l.lim.Allow(ctx, l.prefix+key, l.limit)
	if err != nil {
		return false, err
	}
	return res.Allowed > 0, nil
}

// Fallback asks primary (Redis) and, when it cannot answer, fallback (in
// this process): while Redis is down each instance still holds its own
// share of the limit instead of letting everything through.
type Fallback struct {
	primary, fallback RateLimiter
}

// NewFallback returns a limiter that falls back from primary to fallback.
func NewFallback(primary, fallback RateLimiter) *Fallback {
	return &Fallback{primary: primary, fallback: fallback}
}

// Allow reports whether key may make one more request now.
func (l *Fallback) Allow(ctx context.Context, key string) (bool, error) {
	ok, err := l.primary.Allow(ctx, key)
	if err == nil {
		return ok, nil
	}
	return l.fallback.Allow(ctx, key)
}

// limitBy refuses a request over the limit of its key with answer(): the
// route's own answer object, so that the fields a route always carries
// (register's and login's user_id and token) are there on a refusal too.
func limitBy(l RateLimiter, log *zap.Logger, key func(*gin.Context) string, answer func() response.Body) gin.HandlerFunc {
	return func(c *gin.Context) {
		k := key(c)
		if k == "" {
			c.Next()
			return
		}
		ok, err := l.Allow(c.Request.Context(), k)
		if err != nil {
			// A limiter that cannot answer lets the request through: the
			// limits guard against abuse, the app must not stop with them.
			log.Warn("rate limiter unavailable, allowing", zap.Error(err))
			ok = true
		}
		if !ok {
			response.Write(c, log, answer(), errcode.TooManyRequests)
			c.Abort()
			return
		}
		c.Next()
	}
}

// PerIP limits by client address (register and login: password guessing);
// a refusal is answered with answer().
func PerIP(l RateLimiter, log *zap.Logger, answer func() response.Body) gin.HandlerFunc {
	return limitBy(l, log, func(c *gin.Context) string { return "ip:" + c.ClientIP() }, answer)
}

// PerUser limits by authenticated user; it runs after authentication.
func PerUser(l RateLimiter, log *zap.Logger) gin.HandlerFunc {
	return limitBy(l, log, func(c *gin.Context) string {
		if id := ViewerID(c); id != 0 {
			return "user:" + strconv.FormatInt(id, 10)
		}
		return ""
	}, envelope)
}

func envelope() response.Body { return &response.Envelope{} }
