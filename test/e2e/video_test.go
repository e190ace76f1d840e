package e2e

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-lite/server/pkg/media"
)

func fetch(t *testing.T, rawURL string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// files lists the regular files under dir, for "nothing left behind".
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPublishFeedAndMedia(t *testing.T) {
	for _, st := range stacks() {
		t.Run(st.name, func(t *testing.T) {
			s := start(t, "", append(st.env(t), "TIKTOK_UPLOAD_MAX_BYTES=300000")...)
			authorID, token := s.register(t, "author", "secret1")
			viewerID, viewerToken := s.register(t, "viewer", "secret1")
			sample := media.SampleVideo()
			before := time.Now().UnixMilli()

			r := s.upload(t, map[string]string{"token": token, "title": "  my first clip  "}, "clip.mp4", sample)
			wantCode(t, "publish", r, 0)

			feed := s.get(t, "/douyin/feed/", url.Values{"token": {viewerToken}})
			wantCode(t, "feed", feed, 0)
			videos := feed.List("video_list")
			if len(videos) != 1 {
				t.Fatalf("feed has %d videos, want 1", len(videos))
			}
			v := videos[0]
			if v.Str("title") != "my first clip" || v.Obj("author").Int("id") != authorID {
				t.Errorf("video = %v", v)
			}
			if v.Int("favorite_count") != 0 || v.Int("comment_count") != 0 || v["is_favorite"] != false {
				t.Errorf("fresh video counts/flags = %v %v %v, want present 0, 0, false", v["favorite_count"], v["comment_count"], v["is_favorite"])
			}
			if next := feed.Int("next_time"); next < before || next > time.Now().UnixMilli() {
				t.Errorf("next_time %d is not the video's publish time in ms", next)
			}
			if w := v.Obj("author").Int("work_count"); w != 1 {
				t.Errorf("author work_count = %d, want 1", w)
			}

			list := s.get(t, "/douyin/publish/list/", url.Values{"user_id": {itoa(authorID)}})
			if got := list.List("video_list"); len(got) != 1 || got[0].Int("id") != v.Int("id") {
				t.Errorf("publish list = %v, want the video", got)
			}
			empty := s.get(t, "/douyin/publish/list/", url.Values{"user_id": {itoa(viewerID)}})
			if raw, ok := empty["video_list"].([]any); !ok || len(raw) != 0 {
				t.Errorf("empty publish list = %v, want []", empty["video_list"])
			}

			// The whole video, a range of it for seeking, and the cover.
			play := v.Str("play_url")
			if !strings.HasPrefix(play, s.base+"/media/") {
				t.Fatalf("play_url %q is not an absolute URL on this server", play)
			}
			resp, body := fetch(t, play, nil)
			if resp.StatusCode != 200 || !bytes.Equal(body, sample) {
				t.Errorf("GET play_url: %d, %d bytes; want 200 and the uploaded %d bytes", resp.StatusCode, len(body), len(sample))
			}
			if ct := resp.Header.Get("Content-Type"); ct != "video/mp4" {
				t.Errorf("Content-Type %q, want video/mp4", ct)
			}
			resp, body = fetch(t, play, map[string]string{"Range": "bytes=0-99"})
			if resp.StatusCode != 206 || !bytes.Equal(body, sample[:100]) {
				t.Errorf("Range 0-99: %d, %d bytes; want 206 and the first 100", resp.StatusCode, len(body))
			}
			resp, body = fetch(t, v.Str("cover_url"), nil)
			if resp.StatusCode != 200 || len(body) < 100 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") {
				t.Errorf("GET cover_url: %d, %d bytes, %q", resp.StatusCode, len(body), resp.Header.Get("Content-Type"))
			}

			// Feed paging: older than the video is empty, next_time = now.
			older := s.get(t, "/douyin/feed/", url.Values{"latest_time": {itoa(feed.Int("next_time"))}})
			if n := len(older.List("video_list")); n != 0 {
				t.Errorf("feed before the only video has %d videos, want 0", n)
			}
			if nt := older.Int("next_time"); nt < time.Now().Add(-time.Minute).UnixMilli() {
				t.Errorf("empty page next_time = %d, want now", nt)
			}
			secs := s.get(t, "/douyin/feed/", url.Values{"latest_time": {itoa(time.Now().Unix() + 5)}})
			if n := len(secs.List("video_list")); n != 1 {
				t.Errorf("feed with latest_time in seconds has %d videos, want 1", n)
			}
		})
	}
}

func TestRefusedUploadsLeaveNothing(t *testing.T) {
	for _, st := range stacks() {
		t.Run(st.name, func(t *testing.T) {
			sample := media.SampleVideo()
			limit := len(sample) - 1 // the sample is over it, by a byte
			s := start(t, "", append(st.env(t), fmt.Sprintf("TIKTOK_UPLOAD_MAX_BYTES=%d", limit))...)
			authorID, token := s.register(t, "author", "secret1")

			small := sample[:limit/2] // a valid MP4 header, under the limit
			for _, tt := range []struct {
				name   string
				fields map[string]string
				file   string
				data   []byte
				code   int64
			}{
				{"text named .mp4", map[string]string{"token": token, "title": "t"}, "fake.mp4", []byte("just some text, not a video at all"), 41501},
				{"empty file", map[string]string{"token": token, "title": "t"}, "empty.mp4", []byte{}, 41501},
				{"over the size limit", map[string]string{"token": token, "title": "t"}, "big.mp4", sample, 41301},
				{"missing title", map[string]string{"token": token}, "clip.mp4", small, 40001},
				{"blank title", map[string]string{"token": token, "title": "   "}, "clip.mp4", small, 40001},
				{"title of 101 chars", map[string]string{"token": token, "title": strings.Repeat("标", 101)}, "clip.mp4", small, 40001},
				{"no file", map[string]string{"token": token, "title": "t"}, "", nil, 40001},
				{"no token", map[string]string{"title": "t"}, "clip.mp4", small, 40101},
				{"bad token", map[string]string{"token": "x.y.z", "title": "t"}, "clip.mp4", small, 40102},
			} {
				wantCode(t, tt.name, s.upload(t, tt.fields, tt.file, tt.data), tt.code)
			}
			if n := len(s.get(t, "/douyin/feed/", nil).List("video_list")); n != 0 {
				t.Errorf("feed has %d videos after refused uploads, want 0", n)
			}
			if w := s.get(t, "/douyin/user/", url.Values{"user_id": {itoa(authorID)}}).Obj("user").Int("work_count"); w != 0 {
				t.Errorf("work_count = %d after refused uploads, want 0", w)
			}
			if left := files(t, filepath.Join(s.dataDir, "media")); len(left) != 0 {
				t.Errorf("stored files left behind: %v", left)
			}
			if left := files(t, filepath.Join(s.dataDir, "tmp")); len(left) != 0 {
				t.Errorf("temporary files left behind: %v", left)
			}

			// A title of exactly 100 characters is fine.
			wantCode(t, "100-char title", s.upload(t, map[string]string{"token": token, "title": strings.Repeat("标", 100)}, "clip.mp4", small), 0)
		})
	}
}

func mediaSample() []byte { return media.SampleVideo() }
