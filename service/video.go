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
	"github.com/tiktok-lite/server/pkg/media"
	"github.com/tiktok-lite/server/pkg/units"
)

// FeedSize is the most videos one feed page holds.
const FeedSize = 30

// Videos publishes clips and lists them.
type Videos struct {
	store  Store
	reads  Reads
	views  views
	media  MediaStore
	covers CoverMaker
	sniff  func(head []byte) (contentType, ext string, ok bool)
	inv    Invalidator
	quota  Quota
	log    *zap.Logger
	now    func() time.Time
}

// Quota bounds what one user may keep published; a zero field is no limit.
type Quota struct {
	Videos int64
	Bytes  int64
}

// NewVideos returns the video service. sniff judges a file by its first
// bytes; covers may be nil when ffmpeg is not available.
func NewVideos(store Store, reads Reads, present *Presenter, media MediaStore, covers CoverMaker,
	sniff func(head []byte) (contentType, ext string, ok bool), inv Invalidator, quota Quota, log *zap.Logger) *Videos {
	return &Videos{store: store, reads: reads, views: views{reads, present}, media: media, covers: covers,
		sniff: sniff, inv: inv, quota: quota, log: log, now: time.Now}
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
	videos, err := s.views.videos(ctx, viewer, refs)
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
	videos, err := s.views.videos(ctx, viewer, refs)
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
	// Checked before the upload is stored, so a user at the quota costs
	// no storage; and again in the transaction, where it is exact.
	if err := s.withinQuota(ctx, s.store, authorID, 0, up.Size); err != nil {
		return nil, err
	}

	// ffmpeg, where it is installed, is the judge of a video: a file it
	// finds no decodable video stream in is refused before anything is
	// stored. Without it the sniffed container is all there is to go on.
	cover, err := s.cover(ctx, up.Path)
	if err != nil {
		return nil, err
	}

	name, err := objectName(s.now())
	if err != nil {
		return nil, err
	}
	v := &model.Video{AuthorID: authorID, Title: title, PlayKey: "videos/" + name + ext, SizeBytes: up.Size}
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
	if cover != nil {
		key := "covers/" + name + ".jpg"
		if err := s.media.Put(ctx, key, bytes.NewReader(cover), int64(len(cover)), "image/jpeg"); err != nil {
			undo()
			return nil, fmt.Errorf("store cover: %w", err)
		}
		stored = append(stored, key)
		v.CoverKey = key
	}
	err = writeTx(ctx, s.store, s.inv, func(tx *model.Store) ([]string, error) {
		if err := tx.CreateVideo(ctx, v); err != nil {
			return nil, err
		}
		return s.inv.VideoKeys(v), s.withinQuota(ctx, tx, authorID, 1, 0)
	})
	if err != nil {
		if ctx.Err() == nil {
			undo()
		} else {
			// Cut short by the deadline, the commit may still land: a row
			// without its media would be worse than media without a row.
			s.log.Warn("publish ran out of time, its outcome is unknown: keeping its media", zap.Strings("keys", stored))
		}
		return nil, txError("publish", err)
	}
	return v, nil
}

// withinQuota checks the author's usage plus one more video of size
// bytes; counted says whether that video is already in the usage.
func (s *Videos) withinQuota(ctx context.Context, st Store, authorID int64, counted int64, size int64) error {
	if s.quota.Videos == 0 && s.quota.Bytes == 0 {
		return nil
	}
	videos, bytes, err := st.Usage(ctx, authorID)
	if errors.Is(err, model.ErrNotFound) {
		return errAccountGone
	}
	if err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	videos += 1 - counted
	bytes += size
	if s.quota.Videos > 0 && videos > s.quota.Videos {
		return errcode.TooManyRequests.WithMsg(fmt.Sprintf("you have published the most videos one account may keep (%d)", s.quota.Videos))
	}
	if s.quota.Bytes > 0 && bytes > s.quota.Bytes {
		return errcode.TooManyRequests.WithMsg(fmt.Sprintf("this video would take your account past its storage quota of %s", units.Bytes(s.quota.Bytes)))
	}
	return nil
}

// cover returns a frame of the video, or nil to use the default cover: a
// missing or failing ffmpeg must not fail the upload. A file ffmpeg finds
// no video in is UnsupportedMedia.
func (s *Videos) cover(ctx context.Context, videoPath string) ([]byte, error) {
	if s.covers == nil {
		return nil, nil
	}
	img, err := s.covers.Extract(ctx, videoPath)
	switch {
	case errors.Is(err, media.ErrNoVideo):
		return nil, errcode.UnsupportedMedia.WithMsg("the file holds no video that can be played")
	case err != nil:
		if !errors.Is(err, context.Canceled) {
			s.log.Warn("cover extraction failed, using the default cover", zap.Error(err))
		}
		return nil, nil
	}
	return img, nil
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
