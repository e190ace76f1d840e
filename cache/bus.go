package cache

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Every delete of cached keys is also published on a Redis channel, and
// every instance drops the keys from its in-process layer when the message
// arrives. While the subscription is not confirmed, or the connection
// carrying it goes quiet, the layer is switched off: reads go to Redis,
// which the deletes themselves keep fresh.

// feedCheck is how long the subscription may stay silent before it is
// pinged; an unanswered ping within another feedCheck takes it down.
const feedCheck = time.Second

// feedTargets are what the feed keeps in step: the Redis layer's fence,
// so that a read after another instance's write does not join a load from
// before it, and the in-process layer above.
type feedTargets struct{ fence, layer *near }

func (t feedTargets) drop(keys ...string) {
	t.fence.drop(keys...)
	t.layer.drop(keys...)
}

func (t feedTargets) clear() {
	t.fence.clear()
	t.layer.clear()
}

// setLive switches the layer on or off, with nothing kept from before.
func (t feedTargets) setLive(live bool) {
	t.fence.clear()
	t.layer.setLive(live)
}

// follow keeps n in step with the invalidation channel until ctx ends.
func follow(ctx context.Context, rdb redis.UniversalClient, channel string, n feedTargets, log *zap.Logger) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		ok := followOnce(ctx, rdb, channel, n, log)
		n.setLive(false)
		if ctx.Err() != nil {
			return
		}
		if ok {
			backoff = 50 * time.Millisecond
		} else if backoff < 2*time.Second {
			backoff *= 2
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
	}
}

// followOnce runs one subscription; it reports whether it was ever
// confirmed, and returns when it fails.
func followOnce(ctx context.Context, rdb redis.UniversalClient, channel string, n feedTargets, log *zap.Logger) bool {
	ps := rdb.Subscribe(ctx, channel)
	defer ps.Close()
	confirmed, pinged := false, false
	for {
		msg, err := ps.ReceiveTimeout(ctx, feedCheck)
		if ctx.Err() != nil {
			return confirmed
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				if err := ps.Ping(ctx); err == nil {
					pinged = true
					continue
				}
			}
			if confirmed {
				log.Warn("invalidation feed lost: in-process cache off until it is back", zap.Error(err))
			}
			return confirmed
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				// Anything published before this may have been missed.
				n.setLive(true)
				confirmed = true
			}
		case *redis.Message:
			var keys []string
			if err := json.Unmarshal([]byte(m.Payload), &keys); err != nil {
				// Not knowing what went stale, forget everything.
				log.Warn("malformed invalidation message", zap.String("payload", m.Payload), zap.Error(err))
				n.clear()
				continue
			}
			n.drop(keys...)
		}
	}
}
