package model

import (
	"context"
	"fmt"
	"time"
)

// Comment is a remark on a video.
type Comment struct {
	ID        int64
	VideoID   int64
	UserID    int64
	Content   string
	CreatedAt int64 // Unix milliseconds
}

// AddComment inserts c and counts it on its video. Call it inside Tx.
func (s *Store) AddComment(ctx context.Context, c *Comment) error {
	if c.CreatedAt == 0 {
		c.CreatedAt = s.nowMs()
	}
	if err := s.db.WithContext(ctx).Create(c).Error; err != nil {
		return fmt.Errorf("add comment: %w", translate(err))
	}
	return s.bumpVideo(ctx, c.VideoID, "comment_count", 1)
}

// RepeatedComment returns userID's newest comment on videoID whose text is
// exactly content, made within window of now, or ErrNotFound. The texts
// are compared here, byte for byte, not by the database's collation,
// which would take "Nice" for "nice". Inside Tx after LockUser, no
// identical comment can be committed meanwhile.
func (s *Store) RepeatedComment(ctx context.Context, userID, videoID int64, content string, window time.Duration) (*Comment, error) {
	var rows []*Comment
	err := s.primary(ctx).Where("video_id = ? AND user_id = ? AND created_at >= ?", videoID, userID, s.nowMs()-window.Milliseconds()).
		Order("id DESC").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("repeated comment: %w", translate(err))
	}
	for _, c := range rows {
		if c.Content == content {
			return c, nil
		}
	}
	return nil, ErrNotFound
}

// DeleteComment removes comment c and uncounts it; it reports false when
// the row was already gone (a concurrent delete won). Call it inside Tx.
func (s *Store) DeleteComment(ctx context.Context, c *Comment) (bool, error) {
	res := s.db.WithContext(ctx).Where("id = ?", c.ID).Delete(&Comment{})
	if res.Error != nil {
		return false, fmt.Errorf("delete comment: %w", translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	return true, s.bumpVideo(ctx, c.VideoID, "comment_count", -1)
}

func (s *Store) bumpVideo(ctx context.Context, videoID int64, column string, by int64) error {
	_, _, err := s.bump(ctx, "videos", []counterDelta{{videoID, column, by}})
	return err
}

// CommentByID returns the comment with id, or ErrNotFound.
func (s *Store) CommentByID(ctx context.Context, id int64) (*Comment, error) {
	var c Comment
	if err := s.primary(ctx).Where("id = ?", id).Take(&c).Error; err != nil {
		return nil, fmt.Errorf("comment by id: %w", translate(err))
	}
	return &c, nil
}

// Comments returns videoID's comments, newest first.
func (s *Store) Comments(ctx context.Context, videoID int64) ([]*Comment, error) {
	var rows []*Comment
	err := s.db.WithContext(ctx).Where("video_id = ?", videoID).Order("id DESC").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("comments: %w", translate(err))
	}
	return rows, nil
}
