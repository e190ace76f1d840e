package cache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// gap runs a reader just before the first pipeline that deletes keys
// reaches Redis: the moment after a write has dropped its keys in process
// and before Redis has lost the old values.
type gap struct {
	armed  atomic.Bool
	reader func()
}

func (g *gap) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (g *gap) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (g *gap) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if c.Name() == "del" && g.armed.CompareAndSwap(true, false) {
				g.reader()
				break
			}
		}
		return next(ctx, cmds)
	}
}

// TestAReaderInTheDeleteGapCannotRefillTheLayer: a reader that misses in
// process after a write's local drop, but reads Redis before the write's
// DEL, must not leave the old value in the in-process layer. The second
// delete is put off here, so that only the first delete can make the
// write visible.
func TestAReaderInTheDeleteGapCannotRefillTheLayer(t *testing.T) {
	o := fixture(t)
	o.local, o.secondDelete = time.Hour, 5*time.Second
	n := newNode(t, o)
	w := seed(t, n)
	waitLocal(t, n, o)
	time.Sleep(o.secondDelete + 200*time.Millisecond) // the seed's own second deletes are done
	fresh(t, n, w)
	g := &gap{reader: func() { read(t, n, w, 0) }}
	n.rdb.AddHook(g)

	ctx := context.Background()
	a, b := w.users[1], w.users[2]
	before, err := n.users.Profile(ctx, 0, a)
	must(t, err)
	g.armed.Store(true)
	must(t, n.social.Follow(ctx, a, b))
	// At once, before the delete's own message on the invalidation
	// channel can come back and drop the key a second time.
	after, err := n.users.Profile(ctx, 0, a)
	must(t, err)
	if g.armed.Load() {
		t.Fatal("the follow deleted nothing in Redis")
	}
	if after.FollowCount != before.FollowCount+1 {
		t.Fatalf("the writer's next read has follow_count %d, want %d", after.FollowCount, before.FollowCount+1)
	}
	fresh(t, n, w)
}
