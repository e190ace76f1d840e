package model

import (
	"context"
	"fmt"
)

// Favorite is one user's like of one video.
type Favorite struct {
	ID        int64
	UserID    int64
	VideoID   int64
	CreatedAt int64
}

// LikeChange is one like (On) or unlike of Video by UserID.
type LikeChange struct {
	UserID int64
	Video  *Video
	On     bool
}

// Like records userID's like of video v and moves every counter it touches.
// It reports whether anything changed: a repeated like, found by the
// locking read of applyPairs, moves nothing. Call it inside Tx.
func (s *Store) Like(ctx context.Context, userID int64, v *Video) (bool, error) {
	return s.applyOne(s.ApplyLikes(ctx, []LikeChange{{UserID: userID, Video: v, On: true}}))
}

// Unlike removes userID's like of v; unliking what was never liked
// changes nothing. Call it inside Tx.
func (s *Store) Unlike(ctx context.Context, userID int64, v *Video) (bool, error) {
	return s.applyOne(s.ApplyLikes(ctx, []LikeChange{{UserID: userID, Video: v, On: false}}))
}

// ApplyLikes makes changes in order and reports which of them changed
// anything. The whole set costs a fixed number of statements (see
// applyPairs) and moves the counters once per row, with one UPDATE of
// videos and one of users: many likes of a popular video then lock its row
// once, not once each. Call it inside Tx.
func (s *Store) ApplyLikes(ctx context.Context, changes []LikeChange) ([]bool, error) {
	pairs := make([]pairChange, len(changes))
	for i, c := range changes {
		pairs[i] = pairChange{c.UserID, c.Video.ID, c.On}
	}
	changed, err := s.applyPairs(ctx, "favorites", "video_id", pairs)
	if err != nil {
		return nil, fmt.Errorf("like: %w", err)
	}
	videos, users := counterDeltas{}, counterDeltas{}
	for i, c := range changes {
		if !changed[i] {
			continue
		}
		by := sign(c.On)
		videos.add(c.Video.ID, "favorite_count", by)
		users.add(c.UserID, "favorite_count", by)
		users.add(c.Video.AuthorID, "total_favorited", by)
	}
	// Videos are never deleted, so every row named is there to change.
	if _, _, err := s.bump(ctx, "videos", videos.list()); err != nil {
		return nil, err
	}
	return changed, s.bumpUsers(ctx, users.list()...)
}

// FavoriteRefs returns the videos userID likes, most recently liked first.
func (s *Store) FavoriteRefs(ctx context.Context, userID int64) ([]VideoRef, error) {
	var rows []VideoRef
	err := s.db.WithContext(ctx).Table("favorites AS f").
		Select("v.id, v.author_id, v.published_at").
		Joins("JOIN videos AS v ON v.id = f.video_id").
		Where("f.user_id = ?", userID).Order("f.created_at DESC, f.id DESC").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("favorite refs: %w", translate(err))
	}
	return rows, nil
}

// LikedAmong returns which of videoIDs userID likes.
func (s *Store) LikedAmong(ctx context.Context, userID int64, videoIDs []int64) (map[int64]bool, error) {
	out := make(map[int64]bool, len(videoIDs))
	if userID == 0 || len(videoIDs) == 0 {
		return out, nil
	}
	var ids []int64
	err := s.db.WithContext(ctx).Model(&Favorite{}).
		Where("user_id = ? AND video_id IN ?", userID, uniqueIDs(videoIDs)).Pluck("video_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("liked among: %w", translate(err))
	}
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}
