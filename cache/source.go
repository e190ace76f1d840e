package cache

import (
	"context"
	"math"
	"slices"
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiktok-lite/server/model"
)

// The read path is a stack of layers, each a Source over the one beneath
// it, stacked by the composition root (pkg/app) from the configuration:
//
//	embedded default   Local → Store
//	Redis              Redis → Store
//	Redis + in process Local → Redis → Store
//
// without a cache, the services read the model store itself. The
// invalidation path is stacked the same way: Keys at the bottom, then the
// Redis layer, then the in-process layer, each an Invalidation.

// Source is what a layer answers and what it reads from the layer beneath
// it. Its first nine methods are the services' read interface.
type Source interface {
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
	// Timeline is the newest videos whole, for a layer that keeps it.
	Timeline(ctx context.Context) (*Timeline, error)
}

// Invalidation is what the services tell the cache about their writes,
// the same method set as service.Invalidator: which keys each change makes
// stale, recorded inside its transaction and handed back once it has
// committed.
type Invalidation interface {
	UserKeys(userID int64) []string
	VideoKeys(v *model.Video) []string
	LikeKeys(changes []model.LikeChange) []string
	CommentKeys(videoID int64) []string
	FollowKeys(changes []model.FollowChange) []string
	Record(ctx context.Context, tx *model.Store, keys []string) (model.Stale, error)
	Invalidate(ctx context.Context, st model.Stale)
}

// Timeline is the newest videos, newest first, and the floor: the oldest
// publish time it still covers completely (0 when it holds every video).
type Timeline struct {
	Refs  []model.VideoRef
	Floor int64
}

// page cuts the videos published before beforeMs; ok is false when the
// page reaches below the floor, where the timeline is not complete.
func (t *Timeline) page(beforeMs int64, limit int) (refs []model.VideoRef, ok bool) {
	i := sort.Search(len(t.Refs), func(i int) bool { return t.Refs[i].PublishedAt < beforeMs })
	end := min(i+limit, len(t.Refs))
	if end-i < limit && t.Floor != 0 {
		return nil, false
	}
	return slices.Clone(t.Refs[i:end]), true
}

// Store is the bottom layer: the model store, read from the primary (what
// a cache keeps lives for its TTL, and a replica may not have the last
// write yet), with every read counted as a cache miss.
type Store struct {
	db   *model.Store
	size int // videos in the timeline
	m    *metrics
}

// NewStore returns the bottom layer over db; timelineSize is how many
// videos its Timeline holds (0: 1000). reg may be nil.
func NewStore(db *model.Store, timelineSize int, reg prometheus.Registerer) (*Store, error) {
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	if timelineSize <= 0 {
		timelineSize = 1000
	}
	return &Store{db: db.Primary(), size: timelineSize, m: m}, nil
}

func (s *Store) Find(ctx context.Context, l model.Lookup) (*model.Found, error) {
	s.m.miss("video", len(l.VideoIDs))
	s.m.miss("user", len(l.UserIDs))
	return s.db.Find(ctx, l)
}

func (s *Store) VideoAuthor(ctx context.Context, id int64) (int64, error) {
	s.m.miss("author", 1)
	return s.db.VideoAuthor(ctx, id)
}

func (s *Store) FeedBefore(ctx context.Context, beforeMs int64, limit int) ([]model.VideoRef, error) {
	s.m.miss("feed", 1)
	return s.db.FeedBefore(ctx, beforeMs, limit)
}

func (s *Store) Timeline(ctx context.Context) (*Timeline, error) {
	s.m.miss("timeline", 1)
	refs, err := s.db.FeedBefore(ctx, math.MaxInt64, s.size)
	if err != nil {
		return nil, err
	}
	t := &Timeline{Refs: refs}
	if len(refs) == s.size {
		t.Floor = refs[len(refs)-1].PublishedAt
	}
	return t, nil
}

func (s *Store) PublishedRefs(ctx context.Context, authorID int64) ([]model.VideoRef, error) {
	s.m.miss("published", 1)
	return s.db.PublishedRefs(ctx, authorID)
}

func (s *Store) FavoriteRefs(ctx context.Context, userID int64) ([]model.VideoRef, error) {
	s.m.miss("favorites", 1)
	return s.db.FavoriteRefs(ctx, userID)
}

func (s *Store) Comments(ctx context.Context, videoID int64) ([]*model.Comment, error) {
	s.m.miss("comments", 1)
	return s.db.Comments(ctx, videoID)
}

func (s *Store) FollowingIDs(ctx context.Context, userID int64) ([]int64, error) {
	s.m.miss("following", 1)
	return s.db.FollowingIDs(ctx, userID)
}

func (s *Store) FollowerIDs(ctx context.Context, userID int64) ([]int64, error) {
	s.m.miss("followers", 1)
	return s.db.FollowerIDs(ctx, userID)
}

func (s *Store) FriendIDs(ctx context.Context, userID int64) ([]int64, error) {
	s.m.miss("friends", 1)
	return s.db.FriendIDs(ctx, userID)
}

// Keys is the bottom of the invalidation path: which keys each change
// makes stale, under the configured prefix. Nothing it names outlives the
// process, so it records no outbox row and has nothing to delete.
type Keys struct{ k keys }

// NewKeys names keys under prefix ("": "tiktok:").
func NewKeys(prefix string) Keys {
	if prefix == "" {
		prefix = defaultPrefix
	}
	return Keys{keys{prefix}}
}

const defaultPrefix = "tiktok:"

// UserKeys is what a new account makes stale: an "absent" marker a probe
// may have left for its id.
func (k Keys) UserKeys(userID int64) []string { return []string{k.k.user(userID)} }

// VideoKeys is what a published video makes stale: the timeline, the
// author's list and counters, and any "absent" marker for the new id.
func (k Keys) VideoKeys(v *model.Video) []string {
	return []string{k.k.video(v.ID), k.k.timeline(), k.k.published(v.AuthorID), k.k.user(v.AuthorID)}
}

// LikeKeys is, for each like or unlike, the video's and both users'
// counters and the liker's lists and membership set.
func (k Keys) LikeKeys(changes []model.LikeChange) []string {
	out := make([]string, 0, 5*len(changes))
	for _, ch := range changes {
		out = append(out, k.k.video(ch.Video.ID), k.k.user(ch.UserID), k.k.user(ch.Video.AuthorID),
			k.k.likes(ch.UserID), k.k.favorites(ch.UserID))
	}
	return out
}

// CommentKeys is the video's comment list and count.
func (k Keys) CommentKeys(videoID int64) []string {
	return []string{k.k.comments(videoID), k.k.video(videoID)}
}

// FollowKeys is, for each follow or unfollow, both users' counters, lists
// and membership.
func (k Keys) FollowKeys(changes []model.FollowChange) []string {
	out := make([]string, 0, 7*len(changes))
	for _, ch := range changes {
		out = append(out, k.k.user(ch.UserID), k.k.user(ch.ToUserID), k.k.follows(ch.UserID),
			k.k.following(ch.UserID), k.k.followers(ch.ToUserID), k.k.friends(ch.UserID), k.k.friends(ch.ToUserID))
	}
	return out
}

// Record names each key once, however many changes of a batch name it (a
// hot video or author is in many).
func (Keys) Record(_ context.Context, _ *model.Store, keys []string) (model.Stale, error) {
	return model.Stale{Keys: uniqueKeys(keys)}, nil
}

// Invalidate has nothing to delete at the bottom.
func (Keys) Invalidate(context.Context, model.Stale) {}
