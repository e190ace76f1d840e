// Package redisguard bounds what an unreachable Redis costs a request. It
// is a go-redis hook: after a call fails for want of Redis (a time-out, a
// refused or broken connection) every call fails at once for a cool-down,
// so that a request making several Redis calls (rate limit, cache reads,
// deletes) waits for at most one time-out instead of one per call, and
// the callers fall back to the database or to their in-process limits.
package redisguard

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// ErrDown is returned by every call during the cool-down.
var ErrDown = errors.New("redis: cooling down after a failed call")

// Guard is the hook; install it with rdb.AddHook.
type Guard struct {
	downFor   time.Duration
	downUntil atomic.Int64 // unix nanos
	log       *zap.Logger
	now       func() time.Time
	onDown    []func()
}

// New returns a guard that skips Redis for downFor after a failure, and
// runs each of onDown at every failure (a Cluster's slot map reload, say).
func New(downFor time.Duration, log *zap.Logger, onDown ...func()) *Guard {
	return &Guard{downFor: downFor, log: log, now: time.Now, onDown: onDown}
}

// ReloadClusterSlots is an onDown for a Redis Cluster client (and a no-op
// for any other): after a failover go-redis keeps sending a dead master's
// slots to it until its slot map is reloaded, which it does on a MOVED
// reply or every 10 s, not when a connection is refused. Reloaded at each
// failure, the map names the new master as soon as the Cluster has one.
func ReloadClusterSlots(rdb redis.UniversalClient) func() {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return func() {}
	}
	return func() { cc.ReloadState(context.Background()) } // asynchronous, and one at a time
}

// Down reports whether Redis is being skipped right now.
func (g *Guard) Down() bool { return g.now().UnixNano() < g.downUntil.Load() }

// Observe notes the outcome of a call made outside the hook (a pub/sub
// connection, say); it reports whether err counts as Redis being away.
func (g *Guard) Observe(err error) bool {
	if !Unreachable(err) {
		return false
	}
	now := g.now()
	if was := g.downUntil.Swap(now.Add(g.downFor).UnixNano()); was < now.UnixNano() {
		g.log.Warn("redis unavailable, skipping it for a while", zap.Duration("for", g.downFor), zap.Error(err))
	}
	for _, fn := range g.onDown {
		fn()
	}
	return true
}

// Unreachable reports whether err means Redis did not answer: not a miss,
// not an error reply (Redis answered), not a caller that gave up.
func Unreachable(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) || errors.Is(err, ErrDown) {
		return false
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return false
	}
	return true
}

// DialHook passes dials through; a failed dial surfaces in the call.
func (g *Guard) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return next(ctx, network, addr)
	}
}

// ProcessHook fails a call at once during the cool-down and starts one
// when a call fails for want of Redis.
func (g *Guard) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if g.Down() {
			cmd.SetErr(ErrDown)
			return ErrDown
		}
		err := next(ctx, cmd)
		g.Observe(err)
		return err
	}
}

// ProcessPipelineHook does the same for a pipeline as a whole.
func (g *Guard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if g.Down() {
			for _, cmd := range cmds {
				cmd.SetErr(ErrDown)
			}
			return ErrDown
		}
		err := next(ctx, cmds)
		g.Observe(err)
		return err
	}
}
