package controller

import (
	"strconv"

	"github.com/goccy/go-json"

	"github.com/tiktok-lite/server/pkg/jsonmemo"
	"github.com/tiktok-lite/server/pkg/response"
	"github.com/tiktok-lite/server/service"
)

// Render writes the list answers that make up most of the traffic (feed,
// publish and favorite lists, comments, profiles), taking each item's JSON
// from a memo: a feed page repeats videos and authors every other answer
// has just written, and encoding them was the largest share of a page's
// work. The bytes are exactly those go-json would write.
type Render struct {
	videos   *jsonmemo.Memo[service.Video]
	comments *jsonmemo.Memo[service.Comment]
	users    *jsonmemo.Memo[service.User]
}

// NewRender returns a renderer remembering up to entries items of each kind
// (videos, comments, users); 0 encodes every item afresh.
func NewRender(entries int) *Render {
	if entries <= 0 {
		return &Render{}
	}
	return &Render{
		videos: jsonmemo.New(entries, func(v service.Video) int64 { return v.ID }, 2,
			func(v service.Video, set [2]bool) (service.Video, [2]bool) {
				was := [2]bool{v.Author.IsFollow, v.IsFavorite}
				v.Author.IsFollow, v.IsFavorite = set[0], set[1]
				return v, was
			}),
		comments: jsonmemo.New(entries, func(c service.Comment) int64 { return c.ID }, 1,
			func(c service.Comment, set [2]bool) (service.Comment, [2]bool) {
				was := c.User.IsFollow
				c.User.IsFollow = set[0]
				return c, [2]bool{was}
			}),
		users: jsonmemo.New(entries, func(u service.User) int64 { return u.ID }, 1,
			func(u service.User, set [2]bool) (service.User, [2]bool) {
				was := u.IsFollow
				u.IsFollow = set[0]
				return u, [2]bool{was}
			}),
	}
}

// appendItem writes one item through memo, or encodes it when there is no
// memo.
func appendItem[T comparable](b []byte, memo *jsonmemo.Memo[T], item T) ([]byte, error) {
	if memo == nil {
		out, err := json.Marshal(item)
		return append(b, out...), err
	}
	return memo.Append(b, item)
}

// appendList writes `,"name":[items...]`; a nil list is written as [],
// which is what the client expects of an empty list.
func appendList[T comparable](b []byte, name string, memo *jsonmemo.Memo[T], items []T) ([]byte, error) {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':', '[')
	for i, item := range items {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendItem(b, memo, item); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

func (r *feedResponse) AppendJSON(b []byte) ([]byte, error) {
	b = r.Envelope.AppendOpen(b)
	b, err := appendList(b, "video_list", r.render.videos, r.VideoList)
	b = append(b, `,"next_time":`...)
	b = strconv.AppendInt(b, r.NextTime, 10)
	return append(b, '}'), err
}

func (r *videoListResponse) AppendJSON(b []byte) ([]byte, error) {
	b, err := appendList(r.Envelope.AppendOpen(b), "video_list", r.render.videos, r.VideoList)
	return append(b, '}'), err
}

func (r *commentListResponse) AppendJSON(b []byte) ([]byte, error) {
	b, err := appendList(r.Envelope.AppendOpen(b), "comment_list", r.render.comments, r.CommentList)
	return append(b, '}'), err
}

func (r *userListResponse) AppendJSON(b []byte) ([]byte, error) {
	b, err := appendList(r.Envelope.AppendOpen(b), "user_list", r.render.users, r.UserList)
	return append(b, '}'), err
}

func (r *userResponse) AppendJSON(b []byte) ([]byte, error) {
	b = append(r.Envelope.AppendOpen(b), `,"user":`...)
	if r.User == nil {
		return append(b, "null}"...), nil
	}
	b, err := appendItem(b, r.render.users, *r.User)
	return append(b, '}'), err
}

var (
	_ response.Appender = (*feedResponse)(nil)
	_ response.Appender = (*videoListResponse)(nil)
	_ response.Appender = (*commentListResponse)(nil)
	_ response.Appender = (*userListResponse)(nil)
	_ response.Appender = (*userResponse)(nil)
)
