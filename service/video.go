package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"time"

	"go.uber.org/zap"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/errcode"
)

// FeedSize is the most videos one feed page holds.
const FeedSize = 30

// Videos publishes clips and lists them.
type Videos struct {
	store  Store
	reads  Reads
	pages  pages
	media  MediaStore
	covers CoverMaker
	sniff  func(head []byte) (contentType, ext string, ok bool)
	inv    Invalidator
	log    *zap.Logger
	now    func() time.Time
}

// NewVideos returns the video service. sniff judges a file by its first
// bytes; covers may be nil when ffmpeg is not available.
func NewVideos(store Store, reads Reads, present *Presenter, media MediaStore, covers CoverMaker,
	sniff func(head []byte) (contentType, ext string, ok bool), inv Invalidator, log *zap.Logger) *Videos {
	return &Videos{store: store, reads: reads, pages: pages{reads, present}, media: media, covers: covers,
		sniff: sniff, inv: inv, log: log, now: time.Now}
}

// FeedPage is one page of the feed.
type FeedPage struct {
	Videos   []Video
	NextTime int64 // milliseconds
}

// Feed returns up to FeedSize videos published before latestTime, newest
// first. latestTime may be in seconds or milliseconds; 0, negative or in
// the future means now.
func (s *Videos) Feed(ctx context.Context, viewer, latestTime int64) (*FeedPage, error) {
	now := s.now().UnixMilli()
	before := latestTime
	if before > 0 && before < 1e12 {
		before *= 1000 // the old documentation says seconds
	}
	if before <= 0 || before > now {
		before = now + 1 // "strictly before now" must still include this millisecond
	}
	refs, err := s.reads.FeedBefore(ctx, before, FeedSize)
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	videos, err := s.pages.videos(ctx, viewer, refs)
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	next := now
	if len(refs) > 0 {
		next = refs[len(refs)-1].PublishedAt
	}
	return &FeedPage{Videos: videos, NextTime: next}, nil
}

// PublishList returns userID's videos, newest first.
func (s *Videos) PublishList(ctx context.Context, viewer, userID int64) ([]Video, error) {
	refs, err := s.reads.PublishedRefs(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("publish list: %w", err)
	}
	if len(refs) == 0 {
		if err := userMustExist(ctx, s.store, userID); err != nil {
			return nil, err
		}
	}
	videos, err := s.pages.videos(ctx, viewer, refs)
	if err != nil {
		return nil, fmt.Errorf("publish list: %w", err)
	}
	return videos, nil
}

// Upload is a received video file, already on local disk.
type Upload struct {
	Path string // a temporary file the caller removes afterwards
	Size int64
}

// SniffLen is how many leading bytes Publish reads to judge the file.
const SniffLen = 512

// Publish stores the video and its cover and records the video. Whatever
// fails, nothing is left behind: no row, no stored object.
func (s *Videos) Publish(ctx context.Context, authorID int64, title string, up Upload) (*model.Video, error) {
	title, err := text("title", title, MaxTitleLen, false)
	if err != nil {
		return nil, err
	}
	if up.Size <= 0 {
		return nil, errcode.UnsupportedMedia.WithMsg("the video file is empty")
	}
	f, err := os.Open(up.Path)
	if err != nil {
		return nil, fmt.Errorf("open upload: %w", err)
	}
	defer f.Close()
	head := make([]byte, SniffLen)
	n, err := f.Read(head)
	if err != nil && n == 0 {
		return nil, fmt.Errorf("read upload: %w", err)
	}
	contentType, ext, ok := s.sniff(head[:n])
	if !ok {
		return nil, errcode.UnsupportedMedia.WithMsg("the file is not a video (MP4, MOV, WebM, MKV, AVI, FLV or MPEG-TS)")
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, fmt.Errorf("rewind upload: %w", err)
	}

	name, err := objectName(s.now())
	if err != nil {
		return nil, err
	}
	v := &model.Video{AuthorID: authorID, Title: title, PlayKey: "videos/" + name + ext}
	if err := s.media.Put(ctx, v.PlayKey, f, up.Size, contentType); err != nil {
		return nil, fmt.Errorf("store video: %w", err)
	}
	stored := []string{v.PlayKey}
	undo := func() {
		// A fresh context: the request's may be what was cancelled.
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, key := range stored {
			if err := s.media.Delete(cctx, key); err != nil {
				s.log.Error("remove stored object after failed publish", zap.String("key", key), zap.Error(err))
			}
		}
	}
	if cover := s.cover(ctx, up.Path); cover != nil {
		key := "covers/" + name + ".jpg"
		if err := s.media.Put(ctx, key, bytes.NewReader(cover), int64(len(cover)), "image/jpeg"); err != nil {
			undo()
			return nil, fmt.Errorf("store cover: %w", err)
		}
		stored = append(stored, key)
		v.CoverKey = key
	}
	err = s.store.Tx(ctx, func(tx *model.Store) error { return tx.CreateVideo(ctx, v) })
	if err != nil {
		undo()
		return nil, txError("publish", err)
	}
	s.inv.VideoPublished(ctx, v)
	return v, nil
}

// cover returns a frame of the video, or nil to use the default cover: a
// missing or failing ffmpeg must not fail the upload.
func (s *Videos) cover(ctx context.Context, videoPath string) []byte {
	if s.covers == nil {
		return nil
	}
	img, err := s.covers.Extract(ctx, videoPath)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			s.log.Warn("cover extraction failed, using the default cover", zap.Error(err))
		}
		return nil
	}
	return img
}

// objectName is a date folder and a random name, so keys never collide
// and never reveal anything about the uploader.
func objectName(now time.Time) (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("object name: %w", err)
	}
	return path.Join(now.UTC().Format("2006/01/02"), hex.EncodeToString(b)), nil
}
