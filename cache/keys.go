package cache

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Key layout, all under the configured prefix (docs/architecture.md has the table):
//
//	u:{id}          JSON user row with counters, or "-" when absent
//	v:{id}          JSON video row with counters, or "-" when absent
//	tl              ZSET timeline of recent videos: member "id:author", score
//	                published_at; member "floor" marks how far back it is complete
//	pub:{uid}       JSON refs of the user's videos, newest first
//	fav:{uid}       JSON refs of the videos the user likes, most recent first
//	likes:{uid}     SET of video ids the user likes, plus member "0"
//	follows:{uid}   SET of user ids the user follows, plus member "0"
//	following:{uid} JSON ids the user follows, most recent first
//	followers:{uid} JSON ids following the user, most recent first
//	friends:{uid}   JSON ids of mutual follows
//	cmt:{vid}       JSON comments of the video, newest first
//	invalidate      pub/sub channel: JSON array of the keys of each delete
type keys struct{ prefix string }

func (k keys) user(id int64) string      { return k.prefix + "u:" + itoa(id) }
func (k keys) video(id int64) string     { return k.prefix + "v:" + itoa(id) }
func (k keys) timeline() string          { return k.prefix + "tl" }
func (k keys) published(id int64) string { return k.prefix + "pub:" + itoa(id) }
func (k keys) favorites(id int64) string { return k.prefix + "fav:" + itoa(id) }
func (k keys) likes(id int64) string     { return k.prefix + "likes:" + itoa(id) }
func (k keys) follows(id int64) string   { return k.prefix + "follows:" + itoa(id) }
func (k keys) following(id int64) string { return k.prefix + "following:" + itoa(id) }
func (k keys) followers(id int64) string { return k.prefix + "followers:" + itoa(id) }
func (k keys) friends(id int64) string   { return k.prefix + "friends:" + itoa(id) }
func (k keys) comments(id int64) string  { return k.prefix + "cmt:" + itoa(id) }

// author names the in-process entry of a video's author; it is never in
// Redis and never invalidated.
func (k keys) author(id int64) string { return k.prefix + "author:" + itoa(id) }

// In process, a row is also named by a number, its ref: a page looks up
// sixty rows, and a number is found several times faster than a string
// that must first be built.
type rowKind int64

const (
	userRow  rowKind = 1
	videoRow rowKind = 2
)

func rowRef(kind rowKind, id int64) int64 { return id<<2 | int64(kind) }

// ref returns the ref of a row's key (u:{id} or v:{id}), and false for
// every other key.
func (k keys) ref(key string) (int64, bool) {
	rest, ok := strings.CutPrefix(key, k.prefix)
	if !ok || len(rest) < 3 || rest[1] != ':' {
		return 0, false
	}
	var kind rowKind
	switch rest[0] {
	case 'u':
		kind = userRow
	case 'v':
		kind = videoRow
	default:
		return 0, false
	}
	id, err := strconv.ParseInt(rest[2:], 10, 64)
	if err != nil || id < 0 || id > 1<<60 {
		return 0, false
	}
	return rowRef(kind, id), true
}

// channel carries the keys of every delete to every instance's
// in-process layer.
func (k keys) channel() string { return k.prefix + "invalidate" }

// Markers stored in place of data.
const (
	absent      = "-"     // the id does not exist (short TTL)
	setSentinel = "0"     // member of every membership set: the set is loaded
	floorMember = "floor" // timeline member whose score is where completeness ends
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// ttls spreads expiries: a fixed TTL makes keys loaded together expire
// together and stampede the database together.
type ttls struct {
	base   time.Duration
	absent time.Duration
	jitter float64
}

func (t ttls) spread(d time.Duration) time.Duration {
	if t.jitter <= 0 {
		return d
	}
	return d + time.Duration(float64(d)*t.jitter*rand.Float64())
}

func (t ttls) value() time.Duration   { return t.spread(t.base) }
func (t ttls) missing() time.Duration { return t.spread(t.absent) }
