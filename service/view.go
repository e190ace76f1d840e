package service

import (
	"context"
	"time"

	"github.com/tiktok-lite/server/model"
)

// The objects of the client contract, exactly as the APK reads them. No
// omitempty on counts, ids or flags: a 0 or false must be in the JSON.

// User is a profile as seen by a viewer.
type User struct {
	ID              int64  `json:"id"`
	Name            string `json:"name"`
	FollowCount     int64  `json:"follow_count"`
	FollowerCount   int64  `json:"follower_count"`
	IsFollow        bool   `json:"is_follow"`
	Avatar          string `json:"avatar"`
	BackgroundImage string `json:"background_image"`
	Signature       string `json:"signature"`
	TotalFavorited  int64  `json:"total_favorited"`
	WorkCount       int64  `json:"work_count"`
	FavoriteCount   int64  `json:"favorite_count"`
}

// Video is a clip as seen by a viewer.
type Video struct {
	ID            int64  `json:"id"`
	Author        User   `json:"author"`
	PlayURL       string `json:"play_url"`
	CoverURL      string `json:"cover_url"`
	FavoriteCount int64  `json:"favorite_count"`
	CommentCount  int64  `json:"comment_count"`
	IsFavorite    bool   `json:"is_favorite"`
	Title         string `json:"title"`
}

// Comment is a remark with its author.
type Comment struct {
	ID         int64  `json:"id"`
	User       User   `json:"user"`
	Content    string `json:"content"`
	CreateDate string `json:"create_date"`
}

// Message is a chat line.
type Message struct {
	ID         int64  `json:"id"`
	ToUserID   int64  `json:"to_user_id"`
	FromUserID int64  `json:"from_user_id"`
	Content    string `json:"content"`
	CreateTime int64  `json:"create_time"`
}

// FriendUser is a friend with the latest message between the two.
type FriendUser struct {
	User
	Message string `json:"message"`
	MsgType int64  `json:"msgType"`
}

// Presenter turns rows into contract objects: absolute media URLs and the
// non-empty defaults the APK needs to draw a profile.
type Presenter struct {
	media      MediaStore
	createDate *time.Location
	// The URLs of the default images, built once rather than per item.
	avatar, background, cover string
}

// NewPresenter builds URLs from media and publicURL (the server's own
// address, for the default images it serves under /static/). Comment dates
// are shown in loc.
func NewPresenter(media MediaStore, publicURL string, loc *time.Location) *Presenter {
	return &Presenter{
		media: media, createDate: loc,
		avatar:     publicURL + "/static/avatar.png",
		background: publicURL + "/static/background.png",
		cover:      publicURL + "/static/cover.jpg",
	}
}

// DefaultSignature is shown for users who wrote none.
const DefaultSignature = "This person has not written anything yet."

func (p *Presenter) user(u *model.User, isFollow bool) User {
	out := User{
		ID: u.ID, Name: u.Name, IsFollow: isFollow,
		FollowCount: u.FollowCount, FollowerCount: u.FollowerCount,
		TotalFavorited: u.TotalFavorited, WorkCount: u.WorkCount, FavoriteCount: u.FavoriteCount,
		Avatar: u.Avatar, BackgroundImage: u.BackgroundImage, Signature: u.Signature,
	}
	if out.Avatar == "" {
		out.Avatar = p.avatar
	}
	if out.BackgroundImage == "" {
		out.BackgroundImage = p.background
	}
	if out.Signature == "" {
		out.Signature = DefaultSignature
	}
	return out
}

func (p *Presenter) video(v *model.Video, author User, liked bool) Video {
	cover := p.cover
	if v.CoverKey != "" {
		cover = p.media.URL(v.CoverKey)
	}
	return Video{
		ID: v.ID, Author: author, Title: v.Title,
		PlayURL: p.media.URL(v.PlayKey), CoverURL: cover,
		FavoriteCount: v.FavoriteCount, CommentCount: v.CommentCount, IsFavorite: liked,
	}
}

func (p *Presenter) comment(c *model.Comment, user User) Comment {
	return Comment{
		ID: c.ID, User: user, Content: c.Content,
		CreateDate: time.UnixMilli(c.CreatedAt).In(p.createDate).Format("01-02"),
	}
}

func message(m *model.Message) Message {
	return Message{ID: m.ID, ToUserID: m.ToUserID, FromUserID: m.FromUserID, Content: m.Content, CreateTime: m.CreateTime}
}

// views builds the contract's objects for a list in batches: it gathers
// every id a page needs, makes one Find, and joins in memory.
type views struct {
	reads     Reads
	presenter *Presenter
}

// users returns the users among ids, in the order of ids, skipping any that
// no longer exist.
func (p views) users(ctx context.Context, viewer int64, ids []int64) ([]User, error) {
	found, err := p.reads.Find(ctx, model.Lookup{Viewer: viewer, UserIDs: ids})
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(ids))
	for _, id := range ids {
		if u, ok := found.Users[id]; ok {
			out = append(out, p.presenter.user(u, found.Following[id]))
		}
	}
	return out, nil
}

// videos returns the videos of refs, in order, with authors and the
// viewer's flags, from a single Find.
func (p views) videos(ctx context.Context, viewer int64, refs []model.VideoRef) ([]Video, error) {
	l := model.Lookup{Viewer: viewer, VideoIDs: make([]int64, 0, len(refs)), UserIDs: make([]int64, 0, len(refs))}
	for _, r := range refs {
		l.VideoIDs = append(l.VideoIDs, r.ID)
		l.UserIDs = append(l.UserIDs, r.AuthorID)
	}
	found, err := p.reads.Find(ctx, l)
	if err != nil {
		return nil, err
	}
	out := make([]Video, 0, len(refs))
	for _, r := range refs {
		v, ok := found.Videos[r.ID]
		if !ok {
			continue
		}
		a, ok := found.Users[v.AuthorID]
		if !ok {
			continue
		}
		out = append(out, p.presenter.video(v, p.presenter.user(a, found.Following[a.ID]), found.Liked[v.ID]))
	}
	return out, nil
}
