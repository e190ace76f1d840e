package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tiktok-lite/server/test/testenv"
)

// A community on an embedded server: users, videos with covers, likes,
// comments, follows both ways (friends) and chats.
type community struct {
	names  []string
	ids    []int64
	tokens []string
	videos []int64
}

func populate(t *testing.T, s *server) *community {
	t.Helper()
	c := &community{}
	for _, n := range []string{"ann", "ben", "cat", "dan"} {
		id, tok := s.register(t, n, "secret1")
		c.names, c.ids, c.tokens = append(c.names, n), append(c.ids, id), append(c.tokens, tok)
	}
	for i, tok := range c.tokens[:3] {
		wantCode(t, "publish", s.publishParts(t, url.Values{"token": {tok}}, field("title", fmt.Sprintf("clip %d", i)), filePart("data", mediaSample())), 0)
	}
	for _, v := range s.get(t, "/douyin/feed/", nil).List("video_list") {
		c.videos = append(c.videos, v.Int("id"))
	}
	post := func(path string, p url.Values) { t.Helper(); wantCode(t, path, s.post(t, path, p), 0) }
	for i, tok := range c.tokens {
		for j, v := range c.videos {
			if (i+j)%2 == 0 {
				post("/douyin/favorite/action/", url.Values{"token": {tok}, "video_id": {itoa(v)}, "action_type": {"1"}})
			}
			post("/douyin/comment/action/", url.Values{"token": {tok}, "video_id": {itoa(v)}, "action_type": {"1"}, "comment_text": {fmt.Sprintf("%s on %d", c.names[i], v)}})
		}
		for j, other := range c.ids {
			if j != i && (i+j)%3 != 0 {
				post("/douyin/relation/action/", url.Values{"token": {tok}, "to_user_id": {itoa(other)}, "action_type": {"1"}})
			}
		}
	}
	for i := range 3 {
		post("/douyin/message/action/", url.Values{"token": {c.tokens[0]}, "to_user_id": {itoa(c.ids[1])}, "action_type": {"1"}, "content": {fmt.Sprintf("hi %d", i)}})
		post("/douyin/message/action/", url.Values{"token": {c.tokens[1]}, "to_user_id": {itoa(c.ids[0])}, "action_type": {"1"}, "content": {fmt.Sprintf("hey %d", i)}})
	}
	return c
}

// answers is everything the API says about the community, each user
// logging in again (tokens differ between servers), with the server's own
// base URL replaced so that two servers compare.
func (c *community) answers(t *testing.T, s *server) map[string]string {
	t.Helper()
	out := map[string]string{}
	read := func(name, path string, p url.Values) {
		resp, err := http.Get(s.base + path + "?" + p.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[name] = strings.ReplaceAll(string(body), s.base, "BASE")
	}
	read("feed", "/douyin/feed/", nil)
	for i, name := range c.names {
		login := s.post(t, "/douyin/user/login/", url.Values{"username": {name}, "password": {"secret1"}})
		wantCode(t, "log in as "+name, login, 0)
		tok := login.Str("token")
		for _, id := range c.ids {
			u := url.Values{"user_id": {itoa(id)}, "token": {tok}}
			for _, path := range []string{"/douyin/user/", "/douyin/publish/list/", "/douyin/favorite/list/", "/douyin/relation/follow/list/", "/douyin/relation/follower/list/"} {
				read(name+" "+path+" "+itoa(id), path, u)
			}
			if id != c.ids[i] {
				read(name+" chat "+itoa(id), "/douyin/message/chat/", url.Values{"to_user_id": {itoa(id)}, "token": {tok}})
			}
		}
		read(name+" friends", "/douyin/relation/friend/list/", url.Values{"user_id": {itoa(c.ids[i])}, "token": {tok}})
		for _, v := range c.videos {
			read(name+" comments "+itoa(v), "/douyin/comment/list/", url.Values{"video_id": {itoa(v)}, "token": {tok}})
		}
	}
	return out
}

// mediaBytes returns the bytes of every play_url and cover_url in the feed.
func mediaBytes(t *testing.T, s *server) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, v := range s.get(t, "/douyin/feed/", nil).List("video_list") {
		for _, u := range []string{v.Str("play_url"), v.Str("cover_url")} {
			resp, body := fetch(t, u, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: HTTP %d", u, resp.StatusCode)
			}
			out[strings.TrimPrefix(u, s.base)] = body
		}
	}
	return out
}

func writeConfig(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// command runs the binary with args and returns its output and error.
func command(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // nothing of the tests' own TIKTOK_* reaches it
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// An embedded install moves to the full stack: every profile, count, list,
// flag, chat and media object answers as before, and a transfer stopped
// half way goes on with --resume without copying anything twice.
func TestTransferEmbeddedToFullStack(t *testing.T) {
	srcDir := t.TempDir()
	old := start(t, srcDir)
	c := populate(t, old)
	want := c.answers(t, old)
	wantMedia := mediaBytes(t, old)
	old.stop()

	src := writeConfig(t, t.TempDir(), fmt.Sprintf("data_dir: %s\nseed:\n  demo: false\n", srcDir))
	dstDir := t.TempDir()
	dsn := testenv.MySQLDatabase(t)
	secret := strings.Repeat("grow-secret-", 4)
	dst := writeConfig(t, t.TempDir(), fmt.Sprintf("data_dir: %s\ndatabase:\n  driver: mysql\n  dsn: %q\njwt:\n  secret: %s\n", dstDir, dsn, secret))

	out, err := command(t, "transfer", "--config", src, "--to", dst, "--limit", "7", "--batch", "3")
	if err == nil || !strings.Contains(out, "--resume") {
		t.Fatalf("transfer --limit 7: %v\n%s", err, out)
	}
	out, err = command(t, "transfer", "--config", src, "--to", dst)
	if err == nil || !strings.Contains(out, "not empty") {
		t.Fatalf("a second transfer without --resume into a non-empty target: %v\n%s", err, out)
	}
	out, err = command(t, "transfer", "--config", src, "--to", dst, "--resume", "--batch", "4")
	if err != nil {
		t.Fatalf("transfer --resume: %v\n%s", err, out)
	}
	t.Logf("transfer --resume:\n%s", out)
	for _, line := range []string{"users", "messages", "counter users.total_favorited", "every table and counter verified"} {
		if !strings.Contains(out, line) {
			t.Errorf("the transfer's output lacks %q", line)
		}
	}
	if strings.Contains(out, "DIFFERS") || strings.Contains(out, "WRONG") {
		t.Errorf("the transfer reported differences:\n%s", out)
	}

	// The full stack on the target, through Redis and RabbitMQ.
	env := append(fullStackEnv(t), "TIKTOK_DATABASE_DSN="+dsn, "TIKTOK_JWT_SECRET="+secret)
	moved := start(t, dstDir, env...)
	got := c.answers(t, moved)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s after the move:\n got %s\nwant %s", k, got[k], w)
		}
	}
	gotMedia := mediaBytes(t, moved)
	if len(gotMedia) != len(wantMedia) || len(wantMedia) != 6 {
		t.Errorf("%d media objects after the move, %d before, want 6", len(gotMedia), len(wantMedia))
	}
	for k, w := range wantMedia {
		if !bytes.Equal(gotMedia[k], w) {
			t.Errorf("media %s: %d bytes after the move, %d before", k, len(gotMedia[k]), len(w))
		}
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var comments int
	if err := db.QueryRow("SELECT COUNT(*) FROM comments").Scan(&comments); err != nil || comments != len(c.names)*len(c.videos) {
		t.Errorf("comments on the target: %d (%v), want %d: copied twice or lost", comments, err, len(c.names)*len(c.videos))
	}
	moved.stop()

	// The other way, MySQL to SQLite (a local copy of production), is the
	// same code.
	backDir := t.TempDir()
	back := writeConfig(t, t.TempDir(), fmt.Sprintf("data_dir: %s\n", backDir))
	if out, err := command(t, "transfer", "--config", dst, "--to", back); err != nil {
		t.Fatalf("transfer MySQL to SQLite: %v\n%s", err, out)
	}
	local := start(t, backDir)
	got = c.answers(t, local)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s after the way back:\n got %s\nwant %s", k, got[k], w)
		}
	}
	local.stop()

	// A target that disagrees with its rows fails the verification.
	if _, err := db.Exec("UPDATE users SET follower_count = follower_count + 1 WHERE id = ?", c.ids[0]); err != nil {
		t.Fatal(err)
	}
	out, err = command(t, "transfer", "--config", src, "--to", dst, "--resume")
	if err == nil || !strings.Contains(out, "users.follower_count") || !strings.Contains(out, "WRONG") {
		t.Errorf("transfer onto a target with a wrong counter: %v, want a failed verification naming it\n%s", err, out)
	}
}

// fullStackEnv is the full stack's environment without a database.
func fullStackEnv(t *testing.T) []string {
	env := fullStack().env(t)
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, "TIKTOK_DATABASE_DSN=") && !strings.HasPrefix(e, "TIKTOK_JWT_SECRET=") {
			out = append(out, e)
		}
	}
	return out
}

// A backup taken while comments keep arriving restores to a server whose
// every answer agrees with itself: counts equal their lists, nothing
// half-written, and every restored comment was one the server accepted.
func TestBackupUnderWriteLoad(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	c := populate(t, s)
	video := itoa(c.videos[0])

	var mu sync.Mutex
	accepted := map[string]bool{}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				text := fmt.Sprintf("load %d-%d", w, i)
				r := s.post(t, "/douyin/comment/action/", url.Values{"token": {c.tokens[w]}, "video_id": {video}, "action_type": {"1"}, "comment_text": {text}})
				if r.Code() == 0 {
					mu.Lock()
					accepted[text] = true
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	archive := filepath.Join(t.TempDir(), "backup.tar.gz")
	cfg := writeConfig(t, t.TempDir(), fmt.Sprintf("data_dir: %s\n", dir))
	out, err := command(t, "backup", "--config", cfg, "--out", archive)
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	t.Logf("backup:\n%s", out)

	restoredDir := t.TempDir()
	rcfg := writeConfig(t, t.TempDir(), fmt.Sprintf("data_dir: %s\n", restoredDir))
	if out, err := command(t, "restore", "--config", rcfg, "--in", archive); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if out, err := command(t, "restore", "--config", rcfg, "--in", archive); err == nil || !strings.Contains(out, "not empty") {
		t.Fatalf("a second restore into the same directory: %v\n%s", err, out)
	}
	r := start(t, restoredDir)
	list := r.get(t, "/douyin/comment/list/", url.Values{"video_id": {video}}).List("comment_list")
	var loads []string
	for _, cm := range list {
		if text := cm.Str("content"); strings.HasPrefix(text, "load ") {
			loads = append(loads, text)
			if !accepted[text] {
				t.Errorf("restored comment %q was never accepted", text)
			}
		}
	}
	if len(loads) == 0 {
		t.Error("the backup holds none of the comments made while it ran")
	}
	for _, v := range r.get(t, "/douyin/feed/", nil).List("video_list") {
		n := len(r.get(t, "/douyin/comment/list/", url.Values{"video_id": {itoa(v.Int("id"))}}).List("comment_list"))
		if v.Int("comment_count") != int64(n) {
			t.Errorf("video %d: comment_count %d, %d comments listed", v.Int("id"), v.Int("comment_count"), n)
		}
	}
	// The old tokens still work: the JWT secret came along.
	wantCode(t, "an old token on the restored server", r.get(t, "/douyin/relation/friend/list/", url.Values{"user_id": {itoa(c.ids[0])}, "token": {c.tokens[0]}}), 0)
	sort.Strings(loads)
	t.Logf("%d of %d accepted load comments were in the snapshot", len(loads), len(accepted))
	// A corrupted archive is refused before anything is put in place.
	raw, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.tar.gz")
	if err := os.WriteFile(bad, raw[:len(raw)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	emptyDir := t.TempDir()
	if out, err := command(t, "restore", "--config", writeConfig(t, t.TempDir(), fmt.Sprintf("data_dir: %s\n", emptyDir)), "--in", bad); err == nil {
		t.Fatalf("restore of a cut archive succeeded:\n%s", out)
	}
	if entries, _ := os.ReadDir(emptyDir); len(entries) != 0 {
		t.Errorf("a refused restore left %d entries in the data directory", len(entries))
	}
}
