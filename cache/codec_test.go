package cache

import (
	"reflect"
	"testing"

	"github.com/tiktok-lite/server/model"
)

func roundTrip[T any](t *testing.T, name string, cd codec[T], v T, want T) {
	t.Helper()
	got, err := cd.decode(cd.encode(v))
	if err != nil {
		t.Fatalf("%s: decode(encode) = %v", name, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: round trip = %+v, want %+v", name, got, want)
	}
}

func TestCodecsRoundTrip(t *testing.T) {
	u := &model.User{ID: 7, Name: "名字 with émoji 😀", PasswordHash: "$2a$secret", Avatar: "a", Signature: "",
		FollowCount: 1, FollowerCount: -1, TotalFavorited: 1 << 40, WorkCount: 3, FavoriteCount: 0, CreatedAt: 1795539818263}
	noSecret := *u
	noSecret.PasswordHash = ""
	roundTrip(t, "user", userCodec, u, &noSecret) // the hash never reaches Redis
	v := &model.Video{ID: 1, AuthorID: 2, PlayKey: "videos/x.mp4", Title: "t", FavoriteCount: 5, PublishedAt: 99}
	roundTrip(t, "video", videoCodec, v, v)
	refs := []model.VideoRef{{ID: 1, AuthorID: 2, PublishedAt: 3}, {ID: 4, AuthorID: 5, PublishedAt: 6}}
	roundTrip(t, "refs", refsCodec, refs, refs)
	roundTrip(t, "empty refs", refsCodec, []model.VideoRef{}, []model.VideoRef{})
	roundTrip(t, "ids", idsCodec, []int64{3, 1, 2}, []int64{3, 1, 2})
	cs := []*model.Comment{{ID: 1, VideoID: 2, UserID: 3, Content: "好看\nreally", CreatedAt: 4}}
	roundTrip(t, "comments", commentsCodec, cs, cs)
}

func TestCodecsRefuseOtherBytes(t *testing.T) {
	good := userCodec.encode(&model.User{ID: 1, Name: "n"})
	for name, b := range map[string][]byte{
		"empty":          nil,
		"json":           []byte(`{"ID":1,"Name":"n"}`),
		"other version":  append([]byte{'X'}, good[1:]...),
		"a video":        videoCodec.encode(&model.Video{ID: 1}),
		"truncated":      good[:len(good)-1],
		"trailing bytes": append(append([]byte{}, good...), 0),
	} {
		if _, err := userCodec.decode(b); err == nil {
			t.Errorf("%s: decoded, want an error (a miss)", name)
		}
	}
	if _, err := idsCodec.decode([]byte{idsV1, 0xfe, 0xff, 0xff, 0xff, 0x0f}); err == nil {
		t.Error("a list claiming more items than its bytes decoded, want an error")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(userCodec.encode(&model.User{ID: 1, Name: "n"}))
	f.Add(videoCodec.encode(&model.Video{ID: 1, Title: "t"}))
	f.Add(refsCodec.encode([]model.VideoRef{{ID: 1}}))
	f.Add(commentsCodec.encode([]*model.Comment{{ID: 1, Content: "c"}}))
	f.Add([]byte{idsV1, 0x02, 0x02, 0x04})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Whatever Redis hands back, decoding must not panic, and what
		// decodes must survive a re-encoding unchanged.
		stable(t, "user", userCodec, b)
		stable(t, "video", videoCodec, b)
		stable(t, "refs", refsCodec, b)
		stable(t, "ids", idsCodec, b)
		stable(t, "comments", commentsCodec, b)
	})
}

func stable[T any](t *testing.T, name string, cd codec[T], b []byte) {
	v, err := cd.decode(b)
	if err != nil {
		return // a miss: the value is reloaded
	}
	again, err := cd.decode(cd.encode(v))
	if err != nil || !reflect.DeepEqual(again, v) {
		t.Errorf("%s %x: re-encoding changed it (%v)", name, b, err)
	}
}
