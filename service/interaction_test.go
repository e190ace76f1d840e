package service_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tiktok-lite/server/pkg/errcode"
)

func TestConcurrentLikesAreExact(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		author := a.register(t, "author")
		v := a.publish(t, author, "popular")
		likers := a.registerN(t, "liker", 50)

		noErrors(t, "like", parallel(len(likers), func(i int) error { return a.inter.Like(ctx, likers[i], v.ID) }))
		if got := a.videoView(t, 0, v.ID).FavoriteCount; got != 50 {
			t.Errorf("video favorite_count = %d after 50 likes, want 50", got)
		}
		if got := a.profile(t, author).TotalFavorited; got != 50 {
			t.Errorf("author total_favorited = %d, want 50", got)
		}
		for _, id := range likers {
			if got := a.profile(t, id).FavoriteCount; got != 1 {
				t.Fatalf("liker %d favorite_count = %d, want 1", id, got)
			}
		}
		if n := a.count(t, "favorites", "video_id = ?", v.ID); n != 50 {
			t.Errorf("%d favorite rows, want 50", n)
		}

		noErrors(t, "unlike", parallel(len(likers), func(i int) error { return a.inter.Unlike(ctx, likers[i], v.ID) }))
		if got := a.videoView(t, 0, v.ID).FavoriteCount; got != 0 {
			t.Errorf("video favorite_count = %d after 50 unlikes, want 0", got)
		}
		if got := a.profile(t, author).TotalFavorited; got != 0 {
			t.Errorf("author total_favorited = %d, want 0", got)
		}
		for _, id := range likers {
			if got := a.profile(t, id).FavoriteCount; got != 0 {
				t.Fatalf("liker %d favorite_count = %d, want 0", id, got)
			}
		}
	})
}

func TestSameUserLikingAtOnceCountsOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		author := a.register(t, "author")
		fan := a.register(t, "fan")
		v := a.publish(t, author, "clip")

		noErrors(t, "like", parallel(20, func(int) error { return a.inter.Like(ctx, fan, v.ID) }))
		if got := a.videoView(t, fan, v.ID); got.FavoriteCount != 1 || !got.IsFavorite {
			t.Errorf("after 20 concurrent likes: count %d, is_favorite %v; want 1, true", got.FavoriteCount, got.IsFavorite)
		}
		if got := a.profile(t, fan).FavoriteCount; got != 1 {
			t.Errorf("fan favorite_count = %d, want 1", got)
		}
		if got := a.profile(t, author).TotalFavorited; got != 1 {
			t.Errorf("author total_favorited = %d, want 1", got)
		}

		// And once more, alone: a repeat must be told by the insert itself.
		if err := a.inter.Like(ctx, fan, v.ID); err != nil {
			t.Fatal(err)
		}
		if got := a.videoView(t, fan, v.ID).FavoriteCount; got != 1 {
			t.Errorf("after a repeated like: count %d, want 1", got)
		}

		noErrors(t, "unlike", parallel(20, func(int) error { return a.inter.Unlike(ctx, fan, v.ID) }))
		if got := a.videoView(t, fan, v.ID); got.FavoriteCount != 0 || got.IsFavorite {
			t.Errorf("after 20 concurrent unlikes: count %d, is_favorite %v; want 0, false", got.FavoriteCount, got.IsFavorite)
		}
		// Unliking what was never liked changes nothing and succeeds.
		if err := a.inter.Unlike(ctx, fan, v.ID); err != nil {
			t.Errorf("unlike of a video not liked: %v, want nil", err)
		}
		if got := a.profile(t, fan).FavoriteCount; got != 0 {
			t.Errorf("fan favorite_count = %d after extra unlike, want 0", got)
		}
	})
}

func TestLikeAndFavoriteList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		author := a.register(t, "author")
		fan := a.register(t, "fan")
		v1 := a.publish(t, author, "first")
		v2 := a.publish(t, author, "second")
		v3 := a.publish(t, author, "third")
		for _, v := range []int64{v2.ID, v1.ID, v3.ID} {
			if err := a.inter.Like(ctx, fan, v); err != nil {
				t.Fatal(err)
			}
		}
		list, err := a.inter.FavoriteList(ctx, fan, fan)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, v := range list {
			got = append(got, v.ID)
			if !v.IsFavorite {
				t.Errorf("video %d in own favorite list has is_favorite false", v.ID)
			}
		}
		want := []int64{v3.ID, v1.ID, v2.ID}
		if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Errorf("favorite list = %v, want most recently liked first %v", got, want)
		}
		guest, err := a.inter.FavoriteList(ctx, 0, fan)
		if err != nil || len(guest) != 3 || guest[0].IsFavorite {
			t.Errorf("guest view: %d videos, err %v, first is_favorite %v; want 3, nil, false", len(guest), err, len(guest) > 0 && guest[0].IsFavorite)
		}
		if err := a.inter.Like(ctx, fan, 987654); !errors.Is(err, errcode.VideoNotFound) {
			t.Errorf("like unknown video: %v, want VideoNotFound", err)
		}
		if _, err := a.inter.FavoriteList(ctx, 0, 987654); !errors.Is(err, errcode.UserNotFound) {
			t.Errorf("favorite list of unknown user: %v, want UserNotFound", err)
		}
	})
}

func TestCommentsRulesAndCounts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		author := a.register(t, "author")
		writer := a.register(t, "writer")
		other := a.register(t, "other")
		v := a.publish(t, author, "clip")

		c1, err := a.inter.AddComment(ctx, writer, v.ID, "  first!  ")
		if err != nil {
			t.Fatal(err)
		}
		if c1.Content != "first!" || c1.User.ID != writer || len(c1.CreateDate) != 5 || c1.CreateDate[2] != '-' {
			t.Errorf("comment = %+v, want trimmed content, writer, MM-DD date", c1)
		}
		c2, err := a.inter.AddComment(ctx, other, v.ID, "second")
		if err != nil {
			t.Fatal(err)
		}
		list, err := a.inter.CommentList(ctx, 0, v.ID)
		if err != nil || len(list) != 2 || list[0].ID != c2.ID || list[1].ID != c1.ID {
			t.Fatalf("comment list = %+v, %v; want newest first [%d %d]", list, err, c2.ID, c1.ID)
		}

		for _, tt := range []struct {
			name string
			text string
		}{{"empty", ""}, {"blank", " \n "}, {"501 characters", strings.Repeat("评", 501)}} {
			if _, err := a.inter.AddComment(ctx, writer, v.ID, tt.text); !errors.Is(err, errcode.InvalidParam) {
				t.Errorf("comment %s: %v, want InvalidParam", tt.name, err)
			}
		}
		if _, err := a.inter.AddComment(ctx, writer, v.ID, strings.Repeat("评", 500)); err != nil {
			t.Errorf("500-character comment: %v, want success", err)
		}
		if _, err := a.inter.AddComment(ctx, writer, 999999, "hi"); !errors.Is(err, errcode.VideoNotFound) {
			t.Errorf("comment on unknown video: %v, want VideoNotFound", err)
		}

		if err := a.inter.DeleteComment(ctx, other, v.ID, c1.ID); !errors.Is(err, errcode.Forbidden) {
			t.Errorf("stranger deleting: %v, want Forbidden", err)
		}
		if err := a.inter.DeleteComment(ctx, author, v.ID, c2.ID); err != nil {
			t.Errorf("video author deleting: %v, want success", err)
		}
		if err := a.inter.DeleteComment(ctx, writer, v.ID, c1.ID); err != nil {
			t.Errorf("comment author deleting: %v, want success", err)
		}
		if err := a.inter.DeleteComment(ctx, writer, v.ID, c1.ID); !errors.Is(err, errcode.CommentNotFound) {
			t.Errorf("deleting again: %v, want CommentNotFound", err)
		}
		if got, rows := a.videoView(t, 0, v.ID).CommentCount, a.count(t, "comments", "video_id = ?", v.ID); got != rows || rows != 1 {
			t.Errorf("comment_count = %d, rows = %d; want both 1", got, rows)
		}
	})
}

func TestConcurrentCommentsMatchRows(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		author := a.register(t, "author")
		v := a.publish(t, author, "clip")
		writers := a.registerN(t, "w", 10)
		ids := make([]int64, 40)
		noErrors(t, "add", parallel(40, func(i int) error {
			c, err := a.inter.AddComment(ctx, writers[i%10], v.ID, fmt.Sprintf("hello %d", i))
			if err == nil {
				ids[i] = c.ID
			}
			return err
		}))
		// Delete every other comment, each twice at once: one wins, the
		// other finds it gone.
		errs := parallel(40, func(i int) error {
			k := (i / 2) * 2
			return a.inter.DeleteComment(ctx, writers[k%10], v.ID, ids[k])
		})
		for _, err := range errs {
			if err != nil && !errors.Is(err, errcode.CommentNotFound) {
				t.Fatalf("delete: %v", err)
			}
		}
		rows := a.count(t, "comments", "video_id = ?", v.ID)
		if got := a.videoView(t, 0, v.ID).CommentCount; got != rows || rows != 20 {
			t.Errorf("comment_count = %d, rows = %d; want both 20", got, rows)
		}
	})
}

// Likes and follows that arrive together share one transaction; one that
// cannot be applied (its account was deleted meanwhile) must fail alone,
// and every other must land, counted exactly.
func TestOneFailingChangeDoesNotSinkItsBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		author := a.register(t, "author")
		v := a.publish(t, author, "popular")
		fans := a.registerN(t, "fan", 40)
		gone := fans[7]
		if err := a.store.DB().Exec("DELETE FROM users WHERE id = ?", gone).Error; err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			what string
			do   func(i int) error
		}{
			{"like", func(i int) error { return a.inter.Like(ctx, fans[i], v.ID) }},
			{"follow", func(i int) error { return a.social.Follow(ctx, fans[i], author) }},
		} {
			errs := parallel(len(fans), tc.do)
			for i, err := range errs {
				switch {
				case fans[i] == gone && !errors.Is(err, errcode.BadToken):
					t.Errorf("%s by a deleted account: %v, want the bad-token code", tc.what, err)
				case fans[i] != gone && err != nil:
					t.Errorf("%s by fan %d failed: %v", tc.what, i, err)
				}
			}
		}
		if got := a.videoView(t, 0, v.ID).FavoriteCount; got != 39 {
			t.Errorf("favorite_count = %d, want 39", got)
		}
		p := a.profile(t, author)
		if p.TotalFavorited != 39 || p.FollowerCount != 39 {
			t.Errorf("author total_favorited %d, follower_count %d; want 39 and 39", p.TotalFavorited, p.FollowerCount)
		}
		if n := a.count(t, "favorites", "video_id = ?", v.ID); n != 39 {
			t.Errorf("%d favorite rows, want 39", n)
		}
		if n := a.count(t, "follows", "to_user_id = ?", author); n != 39 {
			t.Errorf("%d follow rows, want 39", n)
		}
	})
}

// A comment its author repeats on the same video (a client retrying a post
// that got no answer) is answered with the stored one, also when the
// repeats arrive at once; a different text, video or author is a new one.
func TestARepeatedCommentIsStoredOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		author, fan := a.register(t, "author"), a.register(t, "fan")
		v, w := a.publish(t, author, "one"), a.publish(t, author, "two")
		ids := make([]int64, 8)
		noErrors(t, "add", parallel(8, func(i int) error {
			c, err := a.inter.AddComment(ctx, fan, v.ID, "first!")
			if err == nil {
				ids[i] = c.ID
			}
			return err
		}))
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("eight identical posts answered with ids %v, want one comment", ids)
			}
		}
		for _, c := range []struct {
			user, video int64
			text        string
		}{{fan, v.ID, "First!"}, {fan, w.ID, "first!"}, {author, v.ID, "first!"}} {
			got, err := a.inter.AddComment(ctx, c.user, c.video, c.text)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID == ids[0] {
				t.Errorf("%+v was taken for the repeated comment", c)
			}
		}
		rows := a.count(t, "comments", "video_id = ?", v.ID)
		if got := a.videoView(t, 0, v.ID).CommentCount; got != rows || rows != 3 {
			t.Errorf("comment_count = %d, rows = %d; want both 3", got, rows)
		}
	})
}
