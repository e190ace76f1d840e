package cache

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tiktok-lite/server/model"
)

// Local is the in-process layer: decoded rows, lists, membership sets and
// the timeline, in front of the layer beneath it. A warm read served from
// it makes no round trip and decodes nothing, which is most of what a read
// costs. It is kept exact by invalidation, not by its TTL (near.go): this
// process's writes drop their keys before and after the layer beneath
// deletes them, and other instances' writes reach it through a Feed.
type Local struct {
	Invalidation // beneath this layer's own drops
	next         Source
	feed         Feed // nil: no other writer
	fence
	k      keys
	m      *metrics
	maxSet int
}

// Feed tells an in-process layer what other instances made stale: the
// Redis layer's invalidation channel.
type Feed interface {
	// Follow keeps n in step with what the feed hears until the feed is
	// closed, and sets it live while the feed is connected.
	Follow(n *near)
	// Up reports whether the feed may be trusted now: a Redis that has
	// just failed a call may be failing other instances' deletes, which
	// then never reach the feed.
	Up() bool
}

var errNoLocalTTL = errors.New("cache: an in-process layer needs a positive TTL")

// LocalOptions size the in-process layer.
type LocalOptions struct {
	Prefix  string        // the key prefix, as the layers beneath use it
	TTL     time.Duration // the longest a value is kept; must be positive
	Entries int           // how many values, default 65536
	MaxSet  int           // the largest likes or follows set kept, default 20000
}

// NewLocal stacks the in-process layer on next and inv. With feed nil it
// is live at once, which is right only where no other process writes (the
// embedded SQLite default); otherwise it serves only while feed is
// connected. reg may be nil.
func NewLocal(next Source, inv Invalidation, feed Feed, reg prometheus.Registerer, opt LocalOptions) (*Local, error) {
	if opt.TTL <= 0 {
		return nil, errNoLocalTTL
	}
	if opt.Entries <= 0 {
		opt.Entries = 1 << 16
	}
	if opt.MaxSet <= 0 {
		opt.MaxSet = 20000
	}
	if opt.Prefix == "" {
		opt.Prefix = defaultPrefix
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	k := keys{opt.Prefix}
	l := &Local{Invalidation: inv, next: next, feed: feed, k: k, m: m, maxSet: opt.MaxSet,
		fence: fence{near: newNear(opt.TTL, opt.Entries, feed == nil, k.ref)}}
	if feed != nil {
		feed.Follow(l.near)
	}
	return l, nil
}

// Next is the layer beneath.
func (l *Local) Next() Source { return l.next }

// Live reports whether the layer serves: without a feed always, else
// while the feed is connected and up.
func (l *Local) Live() bool { return l.near.usable() && (l.feed == nil || l.feed.Up()) }

// Invalidate drops what a committed transaction made stale at once, so the
// writer's next read misses here, then has the layers beneath delete it,
// then drops it again: a reader that missed here in between may have put
// back what Redis still held.
func (l *Local) Invalidate(ctx context.Context, st model.Stale) {
	l.near.drop(st.Keys...)
	l.Invalidation.Invalidate(ctx, st)
	l.near.drop(st.Keys...)
}

// absentRow is kept for an id that does not exist.
type absentRow struct{}

// Find answers a page's rows and the viewer's relations to them from what
// the layer holds, and makes one call beneath for the rest.
func (l *Local) Find(ctx context.Context, lk model.Lookup) (*model.Found, error) {
	if !l.Live() {
		return l.next.Find(ctx, lk)
	}
	vids, uids := lk.VideoIDs, lk.UserIDs
	found := &model.Found{Videos: make(map[int64]*model.Video, len(vids)), Users: make(map[int64]*model.User, len(uids)),
		Liked: map[int64]bool{}, Following: map[int64]bool{}}
	chk := l.check()
	atV := len(chk.keys)
	missV := nearRows(l, chk, "video", videoRow, vids, l.k.video, found.Videos)
	atU := len(chk.keys)
	missU := nearRows(l, chk, "user", userRow, uids, l.k.user, found.Users)
	below := model.Lookup{VideoIDs: missV, UserIDs: missU}
	var sets []*localSet
	bigLikes, bigFollows := false, false
	if lk.Viewer != 0 && len(vids) > 0 {
		s := l.set(chk, "likes", l.k.likes(lk.Viewer), vids, found.Liked, func() ([]int64, error) {
			refs, err := l.next.FavoriteRefs(ctx, lk.Viewer)
			return refIDs(refs), err
		})
		if bigLikes = s.big; bigLikes {
			below.Viewer, below.VideoIDs = lk.Viewer, vids
		}
		sets = append(sets, s)
	}
	if lk.Viewer != 0 && len(uids) > 0 {
		s := l.set(chk, "follows", l.k.follows(lk.Viewer), uids, found.Following, func() ([]int64, error) {
			return l.next.FollowingIDs(ctx, lk.Viewer)
		})
		if bigFollows = s.big; bigFollows {
			below.Viewer, below.UserIDs = lk.Viewer, uids
		}
		sets = append(sets, s)
	}
	if len(below.VideoIDs) > 0 || len(below.UserIDs) > 0 {
		v, err := chk.load("find:"+lookupName(below), func() (any, error) { return l.next.Find(ctx, below) })
		if err != nil {
			return nil, err
		}
		got := v.(*model.Found)
		keepRows(chk, atV, missV, got.Videos, found.Videos)
		keepRows(chk, atU, missU, got.Users, found.Users)
		// got may be shared with other callers: copied, never handed on.
		if bigLikes {
			maps.Copy(found.Liked, got.Liked)
		}
		if bigFollows {
			maps.Copy(found.Following, got.Following)
		}
	}
	for _, s := range sets {
		if err := s.answer(); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// nearRows answers what it can of ids from the layer into out, notes the
// key of each other id in chk, and returns those ids, each once.
func nearRows[T any](l *Local, chk *checked, kind string, row rowKind, ids []int64, key func(int64) string, out map[int64]T) []int64 {
	var miss []int64
	hits := 0
	now := time.Now().UnixNano()
	for _, id := range ids {
		if v, ok := l.near.getRef(rowRef(row, id), now); ok {
			hits++
			if value, ok := v.(T); ok {
				out[id] = value
			} // else the id is known not to exist
			continue
		}
		if slices.Contains(miss, id) {
			continue // a repeat: it is asked for once
		}
		miss = append(miss, id)
		chk.add(key(id))
	}
	l.m.local(kind, hits)
	return miss
}

// keepRows takes the rows of ids from got into out and keeps them, and an
// absent marker for each id got lacks. chk noted the ids' keys in order,
// from number at.
func keepRows[T any](chk *checked, at int, ids []int64, got, out map[int64]T) {
	for j, id := range ids {
		i := at + j
		if row, ok := got[id]; ok {
			out[id] = row
			chk.keep(i, row)
		} else {
			chk.keep(i, absentRow{})
		}
	}
}

// lookupName names a Lookup for a shared load.
func lookupName(l model.Lookup) string {
	return "v=" + joinIDs(l.VideoIDs) + ";u=" + joinIDs(l.UserIDs) + ";viewer=" + strconv.FormatInt(l.Viewer, 10)
}

type idSet map[int64]struct{}

// bigSet marks a set too large to keep in process: the layer beneath is
// asked about the ids of each page instead.
type bigSet struct{}

// localSet is the part of a Find that asks one of the viewer's sets (likes
// or follows) about ids.
type localSet struct {
	ids   []int64
	out   map[int64]bool
	key   int // the set's key in chk
	chk   *checked
	load  func() ([]int64, error)
	name  string
	max   int  // the largest set kept
	big   bool // answered by the Find beneath
	known bool // answered from the layer
}

// set answers from the set kept in process, or prepares its load.
func (l *Local) set(chk *checked, kind, key string, ids []int64, out map[int64]bool, load func() ([]int64, error)) *localSet {
	s := &localSet{ids: ids, out: out, chk: chk, load: load, name: key, max: l.maxSet}
	v, _ := l.near.get(key)
	switch set := v.(type) {
	case idSet:
		l.m.local(kind, 1)
		s.answerFrom(set)
		s.known = true
		return s
	case bigSet:
		s.big = true
		return s
	}
	chk.add(key)
	s.key = len(chk.keys) - 1
	return s
}

// answer loads the whole set (shared by concurrent callers), answers from
// it and keeps it.
func (s *localSet) answer() error {
	if s.known || s.big {
		return nil
	}
	v, err := s.chk.load(s.name, func() (any, error) {
		ids, err := s.load()
		if err != nil {
			return nil, err
		}
		set := make(idSet, len(ids))
		for _, id := range ids {
			set[id] = struct{}{}
		}
		return set, nil
	})
	if err != nil {
		return err
	}
	set := v.(idSet)
	s.answerFrom(set)
	if len(set) > s.max {
		s.chk.keep(s.key, bigSet{})
	} else {
		s.chk.keep(s.key, set)
	}
	return nil
}

func (s *localSet) answerFrom(set idSet) {
	for _, id := range s.ids {
		if _, in := set[id]; in {
			s.out[id] = true
		}
	}
}

func refIDs(refs []model.VideoRef) []int64 {
	ids := make([]int64, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	return ids
}

// VideoAuthor returns who published video id, or model.ErrNotFound. A
// video is never deleted and its author never changes, so the answer is
// kept with no invalidation: a like of a popular video then needs no read
// at all, although each like drops the video's row. An unknown id is not
// kept; it may be published later.
func (l *Local) VideoAuthor(ctx context.Context, id int64) (int64, error) {
	if !l.Live() {
		return l.next.VideoAuthor(ctx, id)
	}
	key := l.k.author(id)
	if v, ok := l.near.get(key); ok {
		l.m.local("author", 1)
		return v.(int64), nil
	}
	chk := l.check(key)
	author, err := l.next.VideoAuthor(ctx, id)
	if err != nil {
		return 0, err
	}
	chk.keep(0, author)
	return author, nil
}

// maxNearList bounds the encoded size of a list kept in process, so that
// the layer's memory stays bounded by its entry count.
const maxNearList = 64 << 10

// localList answers a whole-list read from the layer, else from the layer
// beneath (one load for all concurrent misses), and keeps it unless its
// encoding (by cd; nil: always kept) is over maxNearList.
func localList[T any](ctx context.Context, l *Local, kind, key string, cd *codec[T], load func(context.Context) (T, error)) (T, error) {
	if !l.Live() {
		return load(ctx)
	}
	if v, ok := l.near.get(key); ok {
		l.m.local(kind, 1)
		return v.(T), nil
	}
	chk := l.check(key)
	v, err := chk.load(key, func() (any, error) { return load(ctx) })
	if err != nil {
		var zero T
		return zero, err
	}
	list := v.(T)
	if cd == nil || len(cd.encode(list)) <= maxNearList {
		chk.keep(0, list)
	}
	return list, nil
}

// PublishedRefs returns an author's videos, newest first.
func (l *Local) PublishedRefs(ctx context.Context, authorID int64) ([]model.VideoRef, error) {
	return localList(ctx, l, "published", l.k.published(authorID), &refsCodec, func(ctx context.Context) ([]model.VideoRef, error) {
		return l.next.PublishedRefs(ctx, authorID)
	})
}

// FavoriteRefs returns the videos a user likes, most recent first.
func (l *Local) FavoriteRefs(ctx context.Context, userID int64) ([]model.VideoRef, error) {
	return localList(ctx, l, "favorites", l.k.favorites(userID), &refsCodec, func(ctx context.Context) ([]model.VideoRef, error) {
		return l.next.FavoriteRefs(ctx, userID)
	})
}

// Comments returns a video's comments, newest first.
func (l *Local) Comments(ctx context.Context, videoID int64) ([]*model.Comment, error) {
	return localList(ctx, l, "comments", l.k.comments(videoID), &commentsCodec, func(ctx context.Context) ([]*model.Comment, error) {
		return l.next.Comments(ctx, videoID)
	})
}

// FollowingIDs returns whom a user follows, most recent first.
func (l *Local) FollowingIDs(ctx context.Context, userID int64) ([]int64, error) {
	return localList(ctx, l, "following", l.k.following(userID), &idsCodec, func(ctx context.Context) ([]int64, error) {
		return l.next.FollowingIDs(ctx, userID)
	})
}

// FollowerIDs returns a user's followers, most recent first.
func (l *Local) FollowerIDs(ctx context.Context, userID int64) ([]int64, error) {
	return localList(ctx, l, "followers", l.k.followers(userID), &idsCodec, func(ctx context.Context) ([]int64, error) {
		return l.next.FollowerIDs(ctx, userID)
	})
}

// FriendIDs returns a user's mutual follows.
func (l *Local) FriendIDs(ctx context.Context, userID int64) ([]int64, error) {
	return localList(ctx, l, "friends", l.k.friends(userID), &idsCodec, func(ctx context.Context) ([]int64, error) {
		return l.next.FriendIDs(ctx, userID)
	})
}

// Timeline returns the timeline kept in process, or the one beneath.
func (l *Local) Timeline(ctx context.Context) (*Timeline, error) {
	return localList(ctx, l, "timeline", l.k.timeline(), nil, l.next.Timeline)
}

// FeedBefore cuts a page from the timeline kept in process; a page older
// than the timeline goes beneath.
func (l *Local) FeedBefore(ctx context.Context, beforeMs int64, limit int) ([]model.VideoRef, error) {
	if !l.Live() {
		return l.next.FeedBefore(ctx, beforeMs, limit)
	}
	t, err := l.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	if refs, ok := t.page(beforeMs, limit); ok {
		return refs, nil
	}
	return l.next.FeedBefore(ctx, beforeMs, limit)
}
