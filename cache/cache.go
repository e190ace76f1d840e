// Package cache is the read-through Redis layer in front of the model
// store. Without Redis it passes every read straight to the store and
// every invalidation is a no-op, so services see one interface either way.
package cache

import (
	"context"

	"github.com/tiktok-lite/server/model"
)

// Cache serves the reads the services may take from a cache.
type Cache struct {
	db *model.Store
}

// NewPassThrough returns a cache that caches nothing: the embedded default.
func NewPassThrough(db *model.Store) *Cache { return &Cache{db: db} }

// Find loads a page's objects and the viewer's relations to them.
func (c *Cache) Find(ctx context.Context, l model.Lookup) (*model.Found, error) {
	return c.db.Find(ctx, l)
}

// FeedBefore returns the timeline before beforeMs.
func (c *Cache) FeedBefore(ctx context.Context, beforeMs int64, limit int) ([]model.VideoRef, error) {
	return c.db.FeedBefore(ctx, beforeMs, limit)
}

// PublishedRefs returns an author's videos, newest first.
func (c *Cache) PublishedRefs(ctx context.Context, authorID int64) ([]model.VideoRef, error) {
	return c.db.PublishedRefs(ctx, authorID)
}

// FavoriteRefs returns the videos a user likes, most recent first.
func (c *Cache) FavoriteRefs(ctx context.Context, userID int64) ([]model.VideoRef, error) {
	return c.db.FavoriteRefs(ctx, userID)
}

// Comments returns a video's comments, newest first.
func (c *Cache) Comments(ctx context.Context, videoID int64) ([]*model.Comment, error) {
	return c.db.Comments(ctx, videoID)
}

// FollowingIDs returns whom a user follows.
func (c *Cache) FollowingIDs(ctx context.Context, userID int64) ([]int64, error) {
	return c.db.FollowingIDs(ctx, userID)
}

// FollowerIDs returns a user's followers.
func (c *Cache) FollowerIDs(ctx context.Context, userID int64) ([]int64, error) {
	return c.db.FollowerIDs(ctx, userID)
}

// FriendIDs returns a user's mutual follows.
func (c *Cache) FriendIDs(ctx context.Context, userID int64) ([]int64, error) {
	return c.db.FriendIDs(ctx, userID)
}

// UserCreated is told of a new account.
func (c *Cache) UserCreated(context.Context, int64) {}

// VideoPublished is told of a new video.
func (c *Cache) VideoPublished(context.Context, *model.Video) {}

// LikeChanged is told that userID liked or unliked v.
func (c *Cache) LikeChanged(context.Context, int64, *model.Video) {}

// CommentsChanged is told that a video's comments changed.
func (c *Cache) CommentsChanged(context.Context, int64) {}

// FollowChanged is told that userID followed or unfollowed toUserID.
func (c *Cache) FollowChanged(context.Context, int64, int64) {}
