package cache

import (
	"encoding/binary"
	"errors"

	"github.com/tiktok-lite/server/model"
)

// Cached values are a version byte and varint/length-prefixed fields: a
// warm feed page decodes sixty of them, and reflection-based JSON spent a
// third of the server's time on it. A value that does not decode (another
// version, a stray write) counts as a miss and is reloaded.

// codec turns one kind of cached value into bytes and back.
type codec[T any] struct {
	encode func(T) []byte
	decode func([]byte) (T, error)
}

const (
	userV1     byte = 'U'
	videoV1    byte = 'V'
	refsV1     byte = 'R'
	idsV1      byte = 'I'
	commentsV1 byte = 'C'
)

var errBadValue = errors.New("cache: undecodable value")

type writer struct{ b []byte }

func (w *writer) int(v int64) { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) str(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}

type reader struct {
	b   []byte
	bad bool
}

func newReader(b []byte, version byte) *reader {
	if len(b) == 0 || b[0] != version {
		return &reader{bad: true}
	}
	return &reader{b: b[1:]}
}

func (r *reader) int() int64 {
	if r.bad {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	if r.bad {
		return ""
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 || uint64(len(r.b)-k) < n {
		r.bad = true
		return ""
	}
	s := string(r.b[k : k+int(n)])
	r.b = r.b[k+int(n):]
	return s
}

// count reads a list length, refusing one the remaining bytes cannot hold.
func (r *reader) count() int {
	n := r.int()
	if n < 0 || n > int64(len(r.b)) {
		r.bad = true
		return 0
	}
	return int(n)
}

func (r *reader) done() error {
	if r.bad || len(r.b) != 0 {
		return errBadValue
	}
	return nil
}

// The password hash is deliberately not part of the cached user.
var userCodec = codec[*model.User]{
	encode: func(u *model.User) []byte {
		w := writer{b: append(make([]byte, 0, 96), userV1)}
		w.int(u.ID)
		w.str(u.Name)
		w.str(u.Avatar)
		w.str(u.BackgroundImage)
		w.str(u.Signature)
		w.int(u.FollowCount)
		w.int(u.FollowerCount)
		w.int(u.TotalFavorited)
		w.int(u.WorkCount)
		w.int(u.FavoriteCount)
		w.int(u.CreatedAt)
		return w.b
	},
	decode: func(b []byte) (*model.User, error) {
		r := newReader(b, userV1)
		u := &model.User{ID: r.int(), Name: r.str(), Avatar: r.str(), BackgroundImage: r.str(), Signature: r.str(),
			FollowCount: r.int(), FollowerCount: r.int(), TotalFavorited: r.int(), WorkCount: r.int(),
			FavoriteCount: r.int(), CreatedAt: r.int()}
		return u, r.done()
	},
}

var videoCodec = codec[*model.Video]{
	encode: func(v *model.Video) []byte {
		w := writer{b: append(make([]byte, 0, 160), videoV1)}
		w.int(v.ID)
		w.int(v.AuthorID)
		w.str(v.PlayKey)
		w.str(v.CoverKey)
		w.str(v.Title)
		w.int(v.FavoriteCount)
		w.int(v.CommentCount)
		w.int(v.PublishedAt)
		return w.b
	},
	decode: func(b []byte) (*model.Video, error) {
		r := newReader(b, videoV1)
		v := &model.Video{ID: r.int(), AuthorID: r.int(), PlayKey: r.str(), CoverKey: r.str(), Title: r.str(),
			FavoriteCount: r.int(), CommentCount: r.int(), PublishedAt: r.int()}
		return v, r.done()
	},
}

var refsCodec = codec[[]model.VideoRef]{
	encode: func(refs []model.VideoRef) []byte {
		w := writer{b: append(make([]byte, 0, 2+len(refs)*12), refsV1)}
		w.int(int64(len(refs)))
		for _, ref := range refs {
			w.int(ref.ID)
			w.int(ref.AuthorID)
			w.int(ref.PublishedAt)
		}
		return w.b
	},
	decode: func(b []byte) ([]model.VideoRef, error) {
		r := newReader(b, refsV1)
		refs := make([]model.VideoRef, r.count())
		for i := range refs {
			refs[i] = model.VideoRef{ID: r.int(), AuthorID: r.int(), PublishedAt: r.int()}
		}
		return refs, r.done()
	},
}

var idsCodec = codec[[]int64]{
	encode: func(ids []int64) []byte {
		w := writer{b: append(make([]byte, 0, 2+len(ids)*4), idsV1)}
		w.int(int64(len(ids)))
		for _, id := range ids {
			w.int(id)
		}
		return w.b
	},
	decode: func(b []byte) ([]int64, error) {
		r := newReader(b, idsV1)
		ids := make([]int64, r.count())
		for i := range ids {
			ids[i] = r.int()
		}
		return ids, r.done()
	},
}

var commentsCodec = codec[[]*model.Comment]{
	encode: func(cs []*model.Comment) []byte {
		w := writer{b: append(make([]byte, 0, 2+len(cs)*48), commentsV1)}
		w.int(int64(len(cs)))
		for _, c := range cs {
			w.int(c.ID)
			w.int(c.VideoID)
			w.int(c.UserID)
			w.str(c.Content)
			w.int(c.CreatedAt)
		}
		return w.b
	},
	decode: func(b []byte) ([]*model.Comment, error) {
		r := newReader(b, commentsV1)
		cs := make([]*model.Comment, r.count())
		for i := range cs {
			cs[i] = &model.Comment{ID: r.int(), VideoID: r.int(), UserID: r.int(), Content: r.str(), CreatedAt: r.int()}
		}
		return cs, r.done()
	},
}
