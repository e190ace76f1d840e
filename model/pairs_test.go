package model_test

import (
	"context"
	"testing"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/test/testenv"
)

// One batch replays its changes in order: repeats change nothing, a like
// withdrawn and given again counts both times, and the counters end equal
// to the rows.
func TestABatchOfLikesReplaysInOrder(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			s := model.NewStore(testenv.OpenDB(t, b.Cfg))
			var users []*model.User
			for _, name := range []string{"author", "fan1", "fan2"} {
				u := &model.User{Name: name, PasswordHash: "x"}
				if err := s.CreateUser(ctx, u); err != nil {
					t.Fatal(err)
				}
				users = append(users, u)
			}
			author, fan1, fan2 := users[0].ID, users[1].ID, users[2].ID
			v := &model.Video{AuthorID: author, Title: "t", PlayKey: "videos/a.mp4", PublishedAt: 1}
			must(t, s.Tx(ctx, func(tx *model.Store) error { return tx.CreateVideo(ctx, v) }))
			must(t, s.Tx(ctx, func(tx *model.Store) error { _, err := tx.Like(ctx, fan2, v); return err }))

			changes := []model.LikeChange{
				{UserID: fan1, Video: v, On: true},  // changes
				{UserID: fan1, Video: v, On: true},  // repeat
				{UserID: fan2, Video: v, On: true},  // already liked
				{UserID: fan2, Video: v, On: false}, // changes
				{UserID: fan1, Video: v, On: false}, // changes
				{UserID: fan1, Video: v, On: true},  // changes
				{UserID: fan2, Video: v, On: false}, // repeat
			}
			want := []bool{true, false, false, true, true, true, false}
			var got []bool
			must(t, s.Tx(ctx, func(tx *model.Store) (err error) { got, err = tx.ApplyLikes(ctx, changes); return err }))
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("changed = %v, want %v", got, want)
				}
			}
			liked, err := s.LikedAmong(ctx, fan1, []int64{v.ID})
			must(t, err)
			gone, err := s.LikedAmong(ctx, fan2, []int64{v.ID})
			must(t, err)
			if !liked[v.ID] || gone[v.ID] {
				t.Fatalf("after the batch fan1 likes: %v, fan2 likes: %v; want true and false", liked[v.ID], gone[v.ID])
			}
			found, err := s.Find(ctx, model.Lookup{VideoIDs: []int64{v.ID}, UserIDs: []int64{author, fan1, fan2}})
			must(t, err)
			if n := found.Videos[v.ID].FavoriteCount; n != 1 {
				t.Errorf("favorite_count = %d, want 1", n)
			}
			if n := found.Users[author].TotalFavorited; n != 1 {
				t.Errorf("total_favorited = %d, want 1", n)
			}
			if a, b := found.Users[fan1].FavoriteCount, found.Users[fan2].FavoriteCount; a != 1 || b != 0 {
				t.Errorf("fans' favorite_count = %d, %d; want 1, 0", a, b)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
