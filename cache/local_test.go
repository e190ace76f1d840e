package cache

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/redisguard"
	"github.com/tiktok-lite/server/test/testenv"
)

// TestABigSetIsAskedAboutThePage: a viewer's likes too many to keep in
// process are asked about each page's videos beneath, before and after
// the viewer likes one more, and the layer remembers only that the set is
// big.
func TestABigSetIsAskedAboutThePage(t *testing.T) {
	ctx := context.Background()
	db := model.NewStore(testenv.OpenDB(t, testenv.SQLiteConfig(t)))
	viewer := &model.User{Name: "viewer"}
	author := &model.User{Name: "author"}
	for _, u := range []*model.User{viewer, author} {
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	var videos []*model.Video
	for i := range 5 {
		v := &model.Video{AuthorID: author.ID, PlayKey: fmt.Sprint("p", i), CoverKey: "c", Title: "t"}
		if err := db.CreateVideo(ctx, v); err != nil {
			t.Fatal(err)
		}
		videos = append(videos, v)
	}
	bottom, err := NewStore(db, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := NewKeys("")
	l, err := NewLocal(bottom, keys, nil, nil, LocalOptions{TTL: time.Hour, MaxSet: 2})
	if err != nil {
		t.Fatal(err)
	}
	like := func(v *model.Video) {
		t.Helper()
		var st model.Stale
		err := db.Tx(ctx, func(tx *model.Store) error {
			if _, err := tx.Like(ctx, viewer.ID, v); err != nil {
				return err
			}
			st, err = l.Record(ctx, tx, l.LikeKeys([]model.LikeChange{{UserID: viewer.ID, Video: v, On: true}}))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		l.Invalidate(ctx, st)
	}
	ids := make([]int64, len(videos))
	for i, v := range videos {
		ids[i] = v.ID
	}
	check := func(liked ...int64) {
		t.Helper()
		for range 2 { // cold, then with the layer warm
			found, err := l.Find(ctx, model.Lookup{Viewer: viewer.ID, VideoIDs: ids})
			if err != nil {
				t.Fatal(err)
			}
			want := map[int64]bool{}
			for _, id := range liked {
				want[id] = true
			}
			for _, id := range ids {
				if found.Liked[id] != want[id] {
					t.Fatalf("video %d: liked %v, want %v", id, found.Liked[id], want[id])
				}
			}
		}
	}
	like(videos[0])
	like(videos[1])
	check(ids[0], ids[1])
	if v, _ := l.near.get(l.k.likes(viewer.ID)); v == nil {
		t.Fatal("a set of two, at the limit, is not kept")
	}
	like(videos[2])
	check(ids[0], ids[1], ids[2])
	if v, _ := l.near.get(l.k.likes(viewer.ID)); v != (bigSet{}) {
		t.Fatalf("a set of three over a limit of two is kept as %T, want bigSet", v)
	}
	like(videos[3])
	check(ids[0], ids[1], ids[2], ids[3])
}

// TestTheLayerStopsWhileRedisCoolsDown: once a Redis call has failed, the
// in-process layer above it serves nothing until the cool-down ends, even
// though its feed has not noticed: other instances' deletes may be failing
// too, and their messages never sent. The row changed here behind both
// layers' backs is what a stale answer would miss.
func TestTheLayerStopsWhileRedisCoolsDown(t *testing.T) {
	ctx := context.Background()
	db := model.NewStore(testenv.OpenDB(t, testenv.MySQLConfig(t)))
	u := &model.User{Name: "cooled"}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	guard := redisguard.New(time.Hour, zap.NewNop())
	rdb.AddHook(guard)
	bottom, err := NewStore(db, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "cool:" + testenv.RandomSuffix() + ":"
	r, err := NewRedis(bottom, db, rdb, newRetrierFor(t), zap.NewNop(), nil, Options{Prefix: prefix, Guard: guard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(ctx) })
	l, err := NewLocal(r, r, r, nil, LocalOptions{Prefix: prefix, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); !l.Live(); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the layer never went live")
		}
	}
	name := func() string {
		t.Helper()
		found, err := l.Find(ctx, model.Lookup{UserIDs: []int64{u.ID}})
		if err != nil {
			t.Fatal(err)
		}
		return found.Users[u.ID].Signature
	}
	if got := name(); got != "" {
		t.Fatalf("signature %q, want none yet", got)
	}
	if err := db.DB().Model(&model.User{}).Where("id = ?", u.ID).Update("signature", "changed").Error; err != nil {
		t.Fatal(err)
	}
	if got := name(); got != "" {
		t.Fatalf("the warm layer already has %q: the test shows nothing", got)
	}
	guard.Observe(errors.New("dial tcp: connection refused"))
	if l.Live() {
		t.Fatal("the layer is live while Redis cools down")
	}
	if got := name(); got != "changed" {
		t.Fatalf("while Redis cools down the read answered %q, want the database's %q", got, "changed")
	}
}

// newRetrierFor is an in-process retrier for a test, stopped with it.
func newRetrierFor(t *testing.T) *LocalRetrier {
	t.Helper()
	r, err := NewLocalRetrier(100, 3, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
