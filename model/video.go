package model

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// Video is a published clip; PlayKey and CoverKey name objects in storage.
type Video struct {
	ID            int64
	AuthorID      int64
	PlayKey       string
	CoverKey      string
	Title         string
	FavoriteCount int64
	CommentCount  int64
	PublishedAt   int64 // Unix milliseconds, unique
	SizeBytes     int64 // of the video file; not kept in the cache
}

// maxPublishTries bounds the search for a free millisecond; it only runs
// past one when several videos are published in the same millisecond.
const maxPublishTries = 50

// CreateVideo inserts v, stamping PublishedAt with the current millisecond
// (or the next free one), and counts it in the author's work_count and
// stored_bytes. Call it
// inside Tx so both change together.
func (s *Store) CreateVideo(ctx context.Context, v *Video) error {
	at := s.nowMs()
	if v.PublishedAt > 0 {
		at = v.PublishedAt
	}
	for try := 0; ; try++ {
		v.ID = 0
		v.PublishedAt = at + int64(try)
		// A savepoint lets the transaction go on after a duplicate.
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return tx.Create(v).Error
		})
		err = translate(err)
		if errors.Is(err, ErrDuplicate) && try < maxPublishTries {
			continue
		}
		if err != nil {
			return fmt.Errorf("create video: %w", err)
		}
		break
	}
	return s.bumpUsers(ctx, counterDelta{v.AuthorID, "work_count", 1}, counterDelta{v.AuthorID, "stored_bytes", v.SizeBytes})
}

// VideosByIDs returns the videos that exist among ids, keyed by id.
func (s *Store) VideosByIDs(ctx context.Context, ids []int64) (map[int64]*Video, error) {
	out := make(map[int64]*Video, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []*Video
	if err := s.db.WithContext(ctx).Where("id IN ?", uniqueIDs(ids)).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("videos by ids: %w", translate(err))
	}
	for _, v := range rows {
		out[v.ID] = v
	}
	return out, nil
}

// VideoRef is what every video list holds: enough to fetch the video and
// its author in one batch, and to page by time.
type VideoRef struct {
	ID          int64
	AuthorID    int64
	PublishedAt int64
}

// FeedBefore returns up to limit videos published strictly before
// beforeMs, newest first.
func (s *Store) FeedBefore(ctx context.Context, beforeMs int64, limit int) ([]VideoRef, error) {
	var rows []VideoRef
	err := s.db.WithContext(ctx).Model(&Video{}).Select("id, author_id, published_at").
		Where("published_at < ?", beforeMs).Order("published_at DESC").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("feed: %w", translate(err))
	}
	return rows, nil
}

// PublishedRefs returns authorID's videos, newest first.
func (s *Store) PublishedRefs(ctx context.Context, authorID int64) ([]VideoRef, error) {
	var rows []VideoRef
	err := s.db.WithContext(ctx).Model(&Video{}).Select("id, author_id, published_at").
		Where("author_id = ?", authorID).Order("published_at DESC").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("published refs: %w", translate(err))
	}
	return rows, nil
}

// VideoAuthor returns who published video id, or ErrNotFound.
func (s *Store) VideoAuthor(ctx context.Context, id int64) (int64, error) {
	v, err := s.VideoByID(ctx, id)
	if err != nil {
		return 0, err
	}
	return v.AuthorID, nil
}

// VideoByID returns the video with id, or ErrNotFound.
func (s *Store) VideoByID(ctx context.Context, id int64) (*Video, error) {
	var v Video
	if err := s.primary(ctx).Where("id = ?", id).Take(&v).Error; err != nil {
		return nil, fmt.Errorf("video by id: %w", translate(err))
	}
	return &v, nil
}

// VideoCount returns how many videos exist, for the first-start seed.
func (s *Store) VideoCount(ctx context.Context) (int64, error) {
	var n int64
	if err := s.primary(ctx).Model(&Video{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count videos: %w", translate(err))
	}
	return n, nil
}
