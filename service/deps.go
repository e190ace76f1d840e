// Package service holds the business rules of the app. Each action that
// writes runs in one transaction and then tells the cache what went stale;
// each list is built in batches, never one query per item.
package service

import (
	"context"
	"io"

	"github.com/tiktok-lite/server/model"
)

// Store is the source of truth: transactions and the reads that must not
// come from a cache (log-in, ownership checks).
type Store interface {
	Tx(ctx context.Context, fn func(tx *model.Store) error) error
	CreateUser(ctx context.Context, u *model.User) error
	UserByName(ctx context.Context, name string) (*model.User, error)
	UserExists(ctx context.Context, id int64) (bool, error)
	Usage(ctx context.Context, id int64) (videos, bytes int64, err error)
	VideoByID(ctx context.Context, id int64) (*model.Video, error)
	CommentByID(ctx context.Context, id int64) (*model.Comment, error)
	RecentMessages(ctx context.Context, a, b int64, limit int) ([]*model.Message, error)
	MessagesAfter(ctx context.Context, fromID, toID, afterMs int64, limit int) ([]*model.Message, error)
	LatestMessages(ctx context.Context, userID int64, others []int64) (map[int64]*model.Message, error)
}

// Reads are the lookups that may be served from the cache.
type Reads interface {
	Find(ctx context.Context, l model.Lookup) (*model.Found, error)
	// VideoAuthor is who published a video, or model.ErrNotFound.
	VideoAuthor(ctx context.Context, videoID int64) (int64, error)
	FeedBefore(ctx context.Context, beforeMs int64, limit int) ([]model.VideoRef, error)
	PublishedRefs(ctx context.Context, authorID int64) ([]model.VideoRef, error)
	FavoriteRefs(ctx context.Context, userID int64) ([]model.VideoRef, error)
	Comments(ctx context.Context, videoID int64) ([]*model.Comment, error)
	FollowingIDs(ctx context.Context, userID int64) ([]int64, error)
	FollowerIDs(ctx context.Context, userID int64) ([]int64, error)
	FriendIDs(ctx context.Context, userID int64) ([]int64, error)
}

// Invalidator knows which cached entries each kind of change makes stale.
// A write records them inside its transaction and hands them back once it
// has committed (see stale.go).
type Invalidator interface {
	UserKeys(userID int64) []string
	VideoKeys(v *model.Video) []string
	LikeKeys(changes []model.LikeChange) []string
	CommentKeys(videoID int64) []string
	FollowKeys(changes []model.FollowChange) []string
	// Record notes keys inside the transaction tx that makes them stale,
	// so that they are deleted even if this process dies right after the
	// commit (an outbox).
	Record(ctx context.Context, tx *model.Store, keys []string) (model.Stale, error)
	// Invalidate deletes what a committed transaction recorded.
	Invalidate(ctx context.Context, st model.Stale)
}

// MediaStore keeps uploaded videos and covers.
type MediaStore interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	Delete(ctx context.Context, key string) error
	URL(key string) string
}

// CoverMaker takes a still frame from a video file.
type CoverMaker interface {
	Extract(ctx context.Context, videoPath string) ([]byte, error)
}

// TokenIssuer signs session tokens.
type TokenIssuer interface {
	Issue(userID int64) (string, error)
}

// PasswordHasher hashes and checks passwords.
type PasswordHasher interface {
	Hash(password string) (string, error)
	Check(hash, password string) error
}
