package controller

import (
	"math/rand/v2"
	"testing"

	"github.com/goccy/go-json"

	"github.com/tiktok-lite/server/pkg/response"
	"github.com/tiktok-lite/server/service"
)

// Text that a careless splice or encoder would get wrong.
var awkward = []string{
	"", "plain", `"is_follow":false`, `,"is_favorite":true}`, "<script>&</script>",
	"\xff\xfe", "\u2028", "line\nbreak\t", `back\slash"quote`, "日本語 🎬",
}

type gen struct{ r *rand.Rand }

func (g gen) text() string { return awkward[g.r.IntN(len(awkward))] }
func (g gen) n() int64     { return g.r.Int64N(5) - 1 }
func (g gen) flag() bool   { return g.r.IntN(2) == 0 }

// Few ids and few values, so that entries are hit, changed under the same
// id and evicted.
func (g gen) user() service.User {
	return service.User{
		ID: g.r.Int64N(8) + 1, Name: g.text(), FollowCount: g.n(), FollowerCount: g.n(), IsFollow: g.flag(),
		Avatar: g.text(), BackgroundImage: g.text(), Signature: g.text(),
		TotalFavorited: g.n(), WorkCount: g.n(), FavoriteCount: g.n(),
	}
}

func (g gen) video() service.Video {
	return service.Video{
		ID: g.r.Int64N(8) + 1, Author: g.user(), PlayURL: g.text(), CoverURL: g.text(),
		FavoriteCount: g.n(), CommentCount: g.n(), IsFavorite: g.flag(), Title: g.text(),
	}
}

func (g gen) comment() service.Comment {
	return service.Comment{ID: g.r.Int64N(8) + 1, User: g.user(), Content: g.text(), CreateDate: g.text()}
}

func (g gen) envelope() response.Envelope {
	if g.r.IntN(4) == 0 {
		return response.Envelope{StatusCode: int32(g.r.IntN(3)) + 10001, StatusMsg: g.text()}
	}
	return response.Envelope{}
}

func list[T any](g gen, item func() T) []T {
	out := make([]T, g.r.IntN(5))
	for i := range out {
		out[i] = item()
	}
	return out
}

// Every answer written through Render is byte for byte what go-json writes
// for the same struct, with the memos on and off.
func TestRenderWritesWhatGoJSONWrites(t *testing.T) {
	for _, entries := range []int{0, 4, 1024} {
		render := NewRender(entries)
		g := gen{rand.New(rand.NewPCG(uint64(entries), 7))}
		for range 3000 {
			var user *service.User
			if g.flag() {
				u := g.user()
				user = &u
			}
			for _, body := range []response.Appender{
				&feedResponse{Envelope: g.envelope(), VideoList: list(g, g.video), NextTime: g.r.Int64(), render: render},
				&videoListResponse{Envelope: g.envelope(), VideoList: list(g, g.video), render: render},
				&commentListResponse{Envelope: g.envelope(), CommentList: list(g, g.comment), render: render},
				&userListResponse{Envelope: g.envelope(), UserList: list(g, g.user), render: render},
				&userResponse{Envelope: g.envelope(), User: user, render: render},
			} {
				got, err := body.AppendJSON(nil)
				if err != nil {
					t.Fatal(err)
				}
				want, err := json.Marshal(body)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(want) {
					t.Fatalf("entries %d, %T:\n got %s\nwant %s", entries, body, got, want)
				}
			}
		}
	}
}

// A list the service left nil still reaches the client as an empty array.
func TestANilListIsWrittenEmpty(t *testing.T) {
	got, err := (&feedResponse{render: NewRender(16)}).AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"status_code":0,"video_list":[],"next_time":0}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func BenchmarkFeedPage(b *testing.B) {
	g := gen{rand.New(rand.NewPCG(3, 4))}
	videos := make([]service.Video, 30)
	for i := range videos {
		videos[i] = g.video()
		videos[i].ID = int64(i + 1)
		videos[i].Author.ID = int64(i%10 + 1)
	}
	for _, mode := range []struct {
		name    string
		entries int
	}{{"memo", 1024}, {"go-json", 0}} {
		b.Run(mode.name, func(b *testing.B) {
			resp := &feedResponse{VideoList: videos, render: NewRender(mode.entries)}
			buf := make([]byte, 0, 32<<10)
			for b.Loop() {
				var err error
				if buf, err = resp.AppendJSON(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
