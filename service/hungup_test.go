package service_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-lite/server/test/testenv"
)

// TestHungUpWritesAreVisible: a like or follow whose client hangs up while
// it waits in its batch is committed later, and must then be visible like
// any other, though its caller is gone and the client's retry changes
// nothing. The embedded default's in-process cache would otherwise keep
// the old answers for its whole TTL (an hour here).
func TestHungUpWritesAreVisible(t *testing.T) {
	cfg := testenv.SQLiteConfig(t)
	a := newApp(t, cfg, true)
	ctx := context.Background()
	author, fan := a.register(t, "author"), a.register(t, "fan")
	v := a.publish(t, author, "clip")

	type view struct {
		liked, following    int
		likes, follows      int64
		favorited, isFollow bool
	}
	look := func() view {
		favs, err := a.inter.FavoriteList(ctx, fan, fan)
		if err != nil {
			t.Fatal(err)
		}
		follows, err := a.social.FollowList(ctx, fan, fan)
		if err != nil {
			t.Fatal(err)
		}
		feed, err := a.videos.Feed(ctx, fan, 0)
		if err != nil || len(feed.Videos) != 1 {
			t.Fatalf("feed: %v, %+v", err, feed)
		}
		me, err := a.users.Profile(ctx, fan, fan)
		if err != nil {
			t.Fatal(err)
		}
		return view{len(favs), len(follows), feed.Videos[0].FavoriteCount, me.FollowCount,
			feed.Videos[0].IsFavorite, feed.Videos[0].Author.IsFollow}
	}
	if got := look(); got != (view{}) { // and the cache is warm
		t.Fatalf("before: %+v", got)
	}

	// Another connection holds SQLite's write lock. A first batch of each
	// kind waits for it; the fan's changes queue behind it in a second
	// batch with a patient caller's, whose deadline the batch takes, so
	// they are committed after the fan's own deadline has passed.
	first, patient := a.register(t, "first"), a.register(t, "patient")
	blocker := testenv.OpenDB(t, cfg).Begin()
	if blocker.Error != nil {
		t.Fatal(blocker.Error)
	}
	var others sync.WaitGroup
	others.Add(4)
	for _, id := range []int64{first, patient} {
		go func() {
			defer others.Done()
			if err := a.inter.Like(ctx, id, v.ID); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer others.Done()
			if err := a.social.Follow(ctx, id, author); err != nil {
				t.Error(err)
			}
		}()
		time.Sleep(100 * time.Millisecond) // the first ones are under way
	}
	hung, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	errs := make(chan error, 2)
	go func() { errs <- a.inter.Like(hung, fan, v.ID) }()
	go func() { errs <- a.social.Follow(hung, fan, author) }()
	for range 2 {
		if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a write waiting past its deadline = %v, want the deadline", err)
		}
	}
	cancel()
	if err := blocker.Rollback().Error; err != nil {
		t.Fatal(err)
	}
	others.Wait()

	// The client retries; the retry finds nothing to change.
	for _, err := range []error{a.inter.Like(ctx, fan, v.ID), a.social.Follow(ctx, fan, author)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := view{liked: 1, following: 1, likes: 3, follows: 1, favorited: true, isFollow: true}
	if got := look(); got != want {
		t.Fatalf("after the retry answered: %+v, want %+v", got, want)
	}
}
