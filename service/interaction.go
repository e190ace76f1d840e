package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/batch"
	"github.com/tiktok-lite/server/pkg/errcode"
)

// Interactions are likes and comments.
type Interactions struct {
	store Store
	reads Reads
	views views
	inv   Invalidator
	likes *batch.Combiner[model.LikeChange, outcome]
	// repeatWindow: see NewInteractions.
	repeatWindow time.Duration
}

// NewInteractions returns the like and comment service.
//
// A comment repeated by its author on the same video within repeatWindow
// (0: never) is answered with the stored one instead of a second row: the
// retry of a client that got no answer, or a timeout, while its comment
// was stored.
func NewInteractions(store Store, reads Reads, present *Presenter, inv Invalidator, repeatWindow time.Duration) *Interactions {
	return &Interactions{store: store, reads: reads, views: views{reads, present}, inv: inv, repeatWindow: repeatWindow,
		likes: batchWrites(store, inv, applyLikes, inv.LikeKeys)}
}

// errAccountGone answers a valid token whose user no longer exists.
var errAccountGone = errcode.BadToken.WithMsg("your account no longer exists, please register again")

// txError turns the model's outcomes inside a write into coded errors.
func txError(action string, err error) error {
	if errors.Is(err, model.ErrUserGone) {
		return errAccountGone
	}
	return fmt.Errorf("%s: %w", action, err)
}

// video finds the target of a like or comment, with its author, through
// the cache: a video is never deleted and its author never changes, so a
// cached answer is as good as the database's.
func (s *Interactions) video(ctx context.Context, id int64) (*model.Video, error) {
	author, err := s.reads.VideoAuthor(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		return nil, errcode.VideoNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("video: %w", err)
	}
	return &model.Video{ID: id, AuthorID: author}, nil
}

// Like makes userID like videoID; liking twice counts once.
func (s *Interactions) Like(ctx context.Context, userID, videoID int64) error {
	return s.setLike(ctx, userID, videoID, true)
}

// Unlike withdraws the like; unliking what was never liked changes nothing.
func (s *Interactions) Unlike(ctx context.Context, userID, videoID int64) error {
	return s.setLike(ctx, userID, videoID, false)
}

func (s *Interactions) setLike(ctx context.Context, userID, videoID int64, on bool) error {
	v, err := s.video(ctx, videoID)
	if err != nil {
		return err
	}
	res, err := s.likes.Do(ctx, model.LikeChange{UserID: userID, Video: v, On: on})
	if err == nil {
		err = res.err
	}
	if err != nil {
		return txError("like", err)
	}
	return nil // the batch has invalidated what the change made stale
}

// FavoriteList returns the videos userID likes, most recently liked first.
func (s *Interactions) FavoriteList(ctx context.Context, viewer, userID int64) ([]Video, error) {
	refs, err := s.reads.FavoriteRefs(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("favorite list: %w", err)
	}
	if len(refs) == 0 {
		if err := userMustExist(ctx, s.store, userID); err != nil {
			return nil, err
		}
	}
	videos, err := s.views.videos(ctx, viewer, refs)
	if err != nil {
		return nil, fmt.Errorf("favorite list: %w", err)
	}
	return videos, nil
}

// AddComment posts text on videoID as userID. The author is looked up
// before the commit: once the comment is stored, nothing may turn the
// answer into a failure, or the client would post it again.
func (s *Interactions) AddComment(ctx context.Context, userID, videoID int64, content string) (*Comment, error) {
	content, err := text("comment_text", content, MaxCommentLen, true)
	if err != nil {
		return nil, err
	}
	if _, err := s.video(ctx, videoID); err != nil {
		return nil, err
	}
	users, err := s.views.users(ctx, userID, []int64{userID})
	if err != nil {
		return nil, fmt.Errorf("add comment: %w", err)
	}
	if len(users) == 0 {
		return nil, errAccountGone
	}
	c := &model.Comment{VideoID: videoID, UserID: userID, Content: content}
	err = writeTx(ctx, s.store, s.inv, func(tx *model.Store) ([]string, error) {
		if ok, err := tx.LockUser(ctx, userID); err != nil || !ok {
			if err == nil {
				err = model.ErrUserGone
			}
			return nil, err
		}
		if s.repeatWindow > 0 {
			prev, err := tx.RepeatedComment(ctx, userID, videoID, content, s.repeatWindow)
			if err == nil {
				// Invalidated again: the first answer may have been lost
				// before its own invalidation ran.
				c = prev
				return s.inv.CommentKeys(videoID), nil
			}
			if !errors.Is(err, model.ErrNotFound) {
				return nil, err
			}
		}
		return s.inv.CommentKeys(videoID), tx.AddComment(ctx, c)
	})
	if err != nil {
		return nil, txError("add comment", err)
	}
	out := s.views.presenter.comment(c, users[0])
	return &out, nil
}

// DeleteComment removes commentID from videoID. Only the comment's author
// or the video's author may.
func (s *Interactions) DeleteComment(ctx context.Context, userID, videoID, commentID int64) error {
	v, err := s.video(ctx, videoID)
	if err != nil {
		return err
	}
	c, err := s.store.CommentByID(ctx, commentID)
	if errors.Is(err, model.ErrNotFound) || (err == nil && c.VideoID != videoID) {
		return errcode.CommentNotFound
	}
	if err != nil {
		return fmt.Errorf("delete comment: %w", err)
	}
	if c.UserID != userID && v.AuthorID != userID {
		return errcode.Forbidden.WithMsg("you can only delete your own comments or comments on your videos")
	}
	var deleted bool
	err = writeTx(ctx, s.store, s.inv, func(tx *model.Store) ([]string, error) {
		deleted, err = tx.DeleteComment(ctx, c)
		if err != nil || !deleted {
			return nil, err
		}
		return s.inv.CommentKeys(videoID), nil
	})
	if err != nil {
		return txError("delete comment", err)
	}
	if !deleted {
		return errcode.CommentNotFound
	}
	return nil
}

// CommentList returns videoID's comments, newest first.
func (s *Interactions) CommentList(ctx context.Context, viewer, videoID int64) ([]Comment, error) {
	comments, err := s.reads.Comments(ctx, videoID)
	if err != nil {
		return nil, fmt.Errorf("comment list: %w", err)
	}
	if len(comments) == 0 {
		if _, err := s.video(ctx, videoID); err != nil {
			return nil, err
		}
		return []Comment{}, nil
	}
	ids := make([]int64, 0, len(comments))
	for _, c := range comments {
		ids = append(ids, c.UserID)
	}
	found, err := s.reads.Find(ctx, model.Lookup{Viewer: viewer, UserIDs: ids})
	if err != nil {
		return nil, fmt.Errorf("comment list: %w", err)
	}
	out := make([]Comment, 0, len(comments))
	for _, c := range comments {
		u, ok := found.Users[c.UserID]
		if !ok {
			continue
		}
		out = append(out, s.views.presenter.comment(c, s.views.presenter.user(u, found.Following[u.ID])))
	}
	return out, nil
}

func userMustExist(ctx context.Context, store Store, userID int64) error {
	ok, err := store.UserExists(ctx, userID)
	if err != nil {
		return fmt.Errorf("user exists: %w", err)
	}
	if !ok {
		return errcode.UserNotFound
	}
	return nil
}
