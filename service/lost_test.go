package service_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/service"
	"github.com/tiktok-lite/server/test/testenv"
)

// lostAnswers commits each transaction for real, but reports the next
// `left` of them as cut short by their deadline: a COMMIT that landed as
// the request's time ran out, answered 50301.
type lostAnswers struct {
	service.Store
	left atomic.Int32
}

func (l *lostAnswers) Tx(ctx context.Context, fn func(tx *model.Store) error) error {
	err := l.Store.Tx(ctx, fn)
	if err == nil && l.left.Add(-1) >= 0 {
		return fmt.Errorf("transaction: %w", context.DeadlineExceeded)
	}
	return err
}

// TestLandedWritesAnsweredAsTimeOutsAreVisible: a follow, a like and a
// comment that committed as their deadline ended were answered as
// failures. The client's retry finds nothing left to change (the comment
// is answered with the stored one) and answers 0; from then on every read
// shows the write. The embedded default's in-process cache would
// otherwise keep the old answers for its whole TTL (an hour here).
func TestLandedWritesAnsweredAsTimeOutsAreVisible(t *testing.T) {
	lost := &lostAnswers{}
	a := newAppOver(t, testenv.SQLiteConfig(t), true, func(s service.Store) service.Store { lost.Store = s; return lost })
	ctx := context.Background()
	author, fan := a.register(t, "author"), a.register(t, "fan")
	v := a.publish(t, author, "clip")

	type view struct {
		liked, following, comments int
		likes, follows             int64
	}
	look := func() view {
		favs, err := a.inter.FavoriteList(ctx, fan, fan)
		must(t, err)
		follows, err := a.social.FollowList(ctx, fan, fan)
		must(t, err)
		comments, err := a.inter.CommentList(ctx, fan, v.ID)
		must(t, err)
		feed, err := a.videos.Feed(ctx, fan, 0)
		if err != nil || len(feed.Videos) != 1 {
			t.Fatalf("feed: %v, %+v", err, feed)
		}
		me, err := a.users.Profile(ctx, fan, fan)
		must(t, err)
		return view{len(favs), len(follows), len(comments), feed.Videos[0].FavoriteCount, me.FollowCount}
	}
	if got := look(); got != (view{}) { // and the cache is warm
		t.Fatalf("before: %+v", got)
	}

	for _, w := range []struct {
		name  string
		write func() error
	}{
		{"follow", func() error { return a.social.Follow(ctx, fan, author) }},
		{"like", func() error { return a.inter.Like(ctx, fan, v.ID) }},
		{"comment", func() error { _, err := a.inter.AddComment(ctx, fan, v.ID, "first!"); return err }},
	} {
		lost.left.Store(1)
		if err := w.write(); err == nil {
			t.Fatalf("%s: the lost answer came back as success", w.name)
		}
		if err := w.write(); err != nil {
			t.Fatalf("%s: the retry: %v", w.name, err)
		}
	}
	if got, want := look(), (view{1, 1, 1, 1, 1}); got != want {
		t.Errorf("after the retries answered: %+v, want %+v", got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
