package middleware

import (
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/tiktok-lite/server/pkg/errcode"
	"github.com/tiktok-lite/server/pkg/response"
)

// Limiter allows each key a number of requests per minute with a burst of
// the same size, in this process.
type Limiter struct {
	mu      sync.Mutex
	perMin  int
	buckets map[string]*bucket
	now     func() time.Time
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewLimiter allows perMinute requests a minute per key.
func NewLimiter(perMinute int) *Limiter {
	return &Limiter{perMin: perMinute, buckets: map[string]*bucket{}, now: time.Now}
}

// Allow reports whether key may make one more request now.
func (l *Limiter) Allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.swept) > time.Minute {
		// Idle keys are full again after a minute; forgetting them keeps
		// the map from growing with every address ever seen.
		for k, b := range l.buckets {
			if now.Sub(b.seen) > time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(float64(l.perMin)/60), l.perMin)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// PerIP limits by client address (register and login: password guessing).
func PerIP(l *Limiter, log *zap.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !l.Allow("ip:" + c.ClientIP()) {
			response.Fail(c, log, errcode.TooManyRequests)
			return
		}
		c.Next()
	}
}

// PerUser limits by authenticated user; it runs after authentication.
func PerUser(l *Limiter, log *zap.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		if id := ViewerID(c); id != 0 && !l.Allow("user:"+strconv.FormatInt(id, 10)) {
			response.Fail(c, log, errcode.TooManyRequests)
			return
		}
		c.Next()
	}
}
