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

// Like records userID's like of video v and moves every counter it touches.
// It reports whether anything changed: a repeated like inserts nothing and
// so, decided by the insert's own rows affected, moves nothing. Call it
// inside Tx.
func (s *Store) Like(ctx context.Context, userID int64, v *Video) (bool, error) {
	inserted, err := s.insertOnce(ctx, "favorites", []string{"user_id", "video_id", "created_at"}, userID, v.ID, s.nowMs())
	if err != nil || !inserted {
		return false, err
	}
	return true, s.moveLikeCounters(ctx, userID, v, 1)
}

// Unlike removes userID's like of v; unliking what was never liked
// changes nothing. Call it inside Tx.
func (s *Store) Unlike(ctx context.Context, userID int64, v *Video) (bool, error) {
	res := s.db.WithContext(ctx).Where("user_id = ? AND video_id = ?", userID, v.ID).Delete(&Favorite{})
	if res.Error != nil {
		return false, fmt.Errorf("unlike: %w", translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	return true, s.moveLikeCounters(ctx, userID, v, -1)
}

func (s *Store) moveLikeCounters(ctx context.Context, userID int64, v *Video, by int64) error {
	if err := s.bumpVideo(ctx, v.ID, "favorite_count", by); err != nil {
		return err
	}
	return s.bumpUsers(ctx,
		userDelta{userID, "favorite_count", by},
		userDelta{v.AuthorID, "total_favorited", by},
	)
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

// LikedIDs returns every video userID likes, for the cache's membership set.
func (s *Store) LikedIDs(ctx context.Context, userID int64) ([]int64, error) {
	var ids []int64
	if err := s.db.WithContext(ctx).Model(&Favorite{}).Where("user_id = ?", userID).Pluck("video_id", &ids).Error; err != nil {
		return nil, fmt.Errorf("liked ids: %w", translate(err))
	}
	return ids, nil
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
