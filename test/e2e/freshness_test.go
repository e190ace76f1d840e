package e2e

import (
	"fmt"
	"math/rand"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-lite/server/test/testenv"
)

// TestReadYourWrites has concurrent writers like, unlike, follow,
// unfollow, comment, delete comments, send messages and publish, each
// reading back right after every write answered 0: its lists, flags and
// counters, and those of the videos it alone touches, must already show
// the write, on the instance that answered it. A second after the last
// write every instance must agree with what all of them did.
func TestReadYourWrites(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { readYourWrites(t, start(t, "")) })
	t.Run("fullstack", func(t *testing.T) { readYourWrites(t, start(t, "", fullStack().env(t)...)) })
	t.Run("two instances", func(t *testing.T) {
		env := sharedEnv(t, "ryw", testenv.RedisAddr(t))
		readYourWrites(t, start(t, "", env...), start(t, "", env...))
	})
}

const (
	rywWriters = 8
	rywWrites  = 30 // per writer, after the publish of its own video
)

func readYourWrites(t *testing.T, servers ...*server) {
	author, authorToken := servers[0].register(t, "hotauthor", "secret1")
	wantCode(t, "publish the hot video", servers[0].upload(t, map[string]string{"token": authorToken, "title": "hot"}, "clip.mp4", mediaSample()), 0)
	hot := servers[0].get(t, "/douyin/publish/list/", url.Values{"user_id": {itoa(author)}}).List("video_list")[0].Int("id")

	writers := make([]*writer, rywWriters)
	for i := range writers {
		s := servers[i%len(servers)]
		id, token := s.register(t, fmt.Sprintf("writer%d", i), "secret1")
		writers[i] = &writer{api: api{base: s.base}, n: i, id: id, token: token, hot: hot, hotAuthor: author,
			liked: map[int64]bool{}, follows: map[int64]bool{}, comments: map[int64][]int64{}, sent: map[int64]int{},
			rng: rand.New(rand.NewSource(int64(i)))}
	}
	var everyone []int64
	for _, w := range writers {
		everyone = append(everyone, w.id)
	}
	for _, w := range writers {
		w.others = slices.DeleteFunc(slices.Clone(everyone), func(id int64) bool { return id == w.id })
	}

	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Add(1)
		go func() { defer wg.Done(); w.run() }()
	}
	wg.Wait()
	reads := 0
	for _, w := range writers {
		reads += w.reads
		for _, p := range w.problems {
			t.Errorf("writer %d: %s", w.n, p)
		}
	}
	t.Logf("%d writers, %d writes each, %d read-backs right after their answers", rywWriters, rywWrites+1, reads)

	// A second after the last write every instance serves the whole truth.
	time.Sleep(time.Second)
	for _, s := range servers {
		for _, p := range agreeWith(s, writers) {
			t.Errorf("through %s a second after the last write: %s", s.base, p)
		}
	}
}

// writer is one user's writes and what it knows they made true. The
// lists, flags and counters below change by this user's writes alone, so
// each read-back has one right answer.
type writer struct {
	api
	n          int
	id         int64
	token      string
	hot        int64 // a video every writer likes and comments on
	hotAuthor  int64
	own        int64 // the writer's first video: only it likes and comments on it
	others     []int64
	rng        *rand.Rand
	liked      map[int64]bool
	follows    map[int64]bool
	comments   map[int64][]int64 // live comment ids, per video
	titles     []string          // published, oldest first
	sent       map[int64]int     // messages sent, per user
	reads      int
	problems   []string
	contentSeq int
}

func (w *writer) run() {
	w.publish()
	for i := 0; i < rywWrites && len(w.problems) < 5; i++ {
		switch r := w.rng.Intn(100); {
		case i == rywWrites/2:
			w.publish()
		case r < 30:
			w.like(w.pick(w.hot, w.own))
		case r < 60:
			w.follow(w.others[w.rng.Intn(len(w.others))])
		case r < 75:
			w.comment(w.pick(w.hot, w.own))
		case r < 88:
			w.uncomment()
		default:
			w.message(w.others[w.rng.Intn(len(w.others))])
		}
	}
}

func (w *writer) pick(a, b int64) int64 {
	if w.rng.Intn(2) == 0 {
		return a
	}
	return b
}

// fail notes a problem; a writer stops after five.
func (w *writer) fail(format string, args ...any) {
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

// write posts a write and reports whether it was answered 0.
func (w *writer) write(what, path string, params url.Values) (reply, bool) {
	params.Set("token", w.token)
	r, err := w.post(path, params)
	switch {
	case err != nil:
		w.fail("%s: %v", what, err)
	case r.Code() != 0:
		w.fail("%s: status_code %d (%s)", what, r.Code(), r.Msg())
	default:
		return r, true
	}
	return nil, false
}

// read gets a page as this writer and counts it as a read-back.
func (w *writer) read(path string, params url.Values) (reply, bool) {
	params.Set("token", w.token)
	r, err := w.get(path, params)
	if err == nil && r.Code() != 0 {
		err = fmt.Errorf("status_code %d (%s)", r.Code(), r.Msg())
	}
	if err != nil {
		w.fail("GET %s: %v", path, err)
		return nil, false
	}
	w.reads++
	return r, true
}

// toggle is the action_type that flips a like or a follow that is on or off.
func toggle(on bool) string {
	if on {
		return "2"
	}
	return "1"
}

func (w *writer) like(v int64) {
	action := toggle(w.liked[v])
	if _, ok := w.write("like", "/douyin/favorite/action/", url.Values{"video_id": {itoa(v)}, "action_type": {action}}); !ok {
		return
	}
	w.liked[v] = !w.liked[v]
	what := fmt.Sprintf("after action %s on video %d", action, v)
	if list, ok := w.read("/douyin/favorite/list/", url.Values{"user_id": {itoa(w.id)}}); ok {
		w.sameIDs(what+": my favorite list", ids(list.List("video_list")), w.likedIDs())
	}
	w.checkMe(what)
	author := w.hotAuthor
	if v == w.own {
		author = w.id
	}
	if video, ok := w.videoOf(author, v); ok {
		if got := video["is_favorite"] == true; got != w.liked[v] {
			w.fail("%s: is_favorite %v", what, got)
		}
		if v == w.own && video.Int("favorite_count") != boolCount(w.liked[v]) {
			w.fail("%s: my own video's favorite_count %d", what, video.Int("favorite_count"))
		}
	}
}

func (w *writer) follow(to int64) {
	action := toggle(w.follows[to])
	if _, ok := w.write("follow", "/douyin/relation/action/", url.Values{"to_user_id": {itoa(to)}, "action_type": {action}}); !ok {
		return
	}
	w.follows[to] = !w.follows[to]
	what := fmt.Sprintf("after action %s on user %d", action, to)
	if u, ok := w.read("/douyin/user/", url.Values{"user_id": {itoa(to)}}); ok {
		if got := u.Obj("user")["is_follow"] == true; got != w.follows[to] {
			w.fail("%s: is_follow %v", what, got)
		}
	}
	if list, ok := w.read("/douyin/relation/follow/list/", url.Values{"user_id": {itoa(w.id)}}); ok {
		w.sameIDs(what+": my follow list", ids(list.List("user_list")), trueKeys(w.follows))
	}
	w.checkMe(what)
}

func (w *writer) comment(v int64) {
	w.contentSeq++
	text := fmt.Sprintf("comment %d of writer %d", w.contentSeq, w.n)
	r, ok := w.write("comment", "/douyin/comment/action/", url.Values{"video_id": {itoa(v)}, "action_type": {"1"}, "comment_text": {text}})
	if !ok {
		return
	}
	id := r.Obj("comment").Int("id")
	w.comments[v] = append(w.comments[v], id)
	w.checkComments(fmt.Sprintf("after adding comment %d to video %d", id, v), v, id, true)
}

func (w *writer) uncomment() {
	var v int64
	for _, c := range []int64{w.hot, w.own} {
		if len(w.comments[c]) > 0 {
			v = c
		}
	}
	if v == 0 {
		w.comment(w.own)
		return
	}
	id := w.comments[v][0]
	if _, ok := w.write("delete comment", "/douyin/comment/action/", url.Values{"video_id": {itoa(v)}, "action_type": {"2"}, "comment_id": {itoa(id)}}); !ok {
		return
	}
	w.comments[v] = w.comments[v][1:]
	w.checkComments(fmt.Sprintf("after deleting comment %d of video %d", id, v), v, id, false)
}

// checkComments wants comment id in video v's list or not, and on the
// writer's own video the whole list and its count.
func (w *writer) checkComments(what string, v, id int64, present bool) {
	list, ok := w.read("/douyin/comment/list/", url.Values{"video_id": {itoa(v)}})
	if !ok {
		return
	}
	got := ids(list.List("comment_list"))
	if slices.Contains(got, id) != present {
		w.fail("%s: the comment list %v", what, got)
	}
	if v != w.own {
		return
	}
	w.sameIDs(what+": my own video's comments", got, w.comments[v])
	if video, ok := w.videoOf(w.id, v); ok && video.Int("comment_count") != int64(len(w.comments[v])) {
		w.fail("%s: comment_count %d, want %d", what, video.Int("comment_count"), len(w.comments[v]))
	}
}

func (w *writer) message(to int64) {
	w.contentSeq++
	text := fmt.Sprintf("message %d of writer %d", w.contentSeq, w.n)
	if _, ok := w.write("message", "/douyin/message/action/", url.Values{"to_user_id": {itoa(to)}, "action_type": {"1"}, "content": {text}}); !ok {
		return
	}
	w.sent[to]++
	chat, ok := w.read("/douyin/message/chat/", url.Values{"to_user_id": {itoa(to)}})
	if !ok {
		return
	}
	mine := 0
	seen := false
	for _, m := range chat.List("message_list") {
		if m.Int("from_user_id") == w.id {
			mine++
			seen = seen || m.Str("content") == text
		}
	}
	if !seen || mine != w.sent[to] {
		w.fail("after sending %q to %d: the chat holds %d of my %d messages, the last one: %v", text, to, mine, w.sent[to], seen)
	}
}

func (w *writer) publish() {
	title := fmt.Sprintf("video %d of writer %d", len(w.titles)+1, w.n)
	r, err := upload(w.base, map[string]string{"token": w.token, "title": title}, "clip.mp4", mediaSample())
	if err == nil && r.Code() != 0 {
		err = fmt.Errorf("status_code %d (%s)", r.Code(), r.Msg())
	}
	if err != nil {
		w.fail("publish %q: %v", title, err)
		return
	}
	w.titles = append(w.titles, title)
	what := fmt.Sprintf("after publishing %q", title)
	list, ok := w.read("/douyin/publish/list/", url.Values{"user_id": {itoa(w.id)}})
	if !ok {
		return
	}
	var got []string
	for _, v := range list.List("video_list") {
		got = append(got, v.Str("title"))
	}
	want := slices.Clone(w.titles)
	slices.Reverse(want) // newest first
	if !slices.Equal(got, want) {
		w.fail("%s: my publish list %q", what, got)
	}
	if w.own == 0 && len(got) == 1 {
		w.own = list.List("video_list")[0].Int("id")
	}
	if feed, ok := w.read("/douyin/feed/", url.Values{}); ok {
		if !slices.ContainsFunc(feed.List("video_list"), func(v reply) bool { return v.Str("title") == title }) {
			w.fail("%s: not in the feed", what)
		}
	}
	w.checkMe(what)
}

// checkMe wants the writer's own counters to count its writes.
func (w *writer) checkMe(what string) {
	r, ok := w.read("/douyin/user/", url.Values{"user_id": {itoa(w.id)}})
	if !ok {
		return
	}
	u := r.Obj("user")
	for field, want := range map[string]int64{
		"favorite_count":  int64(len(w.likedIDs())),
		"follow_count":    int64(len(trueKeys(w.follows))),
		"work_count":      int64(len(w.titles)),
		"total_favorited": boolCount(w.liked[w.own]),
	} {
		if got := u.Int(field); got != want {
			w.fail("%s: my %s %d, want %d", what, field, got, want)
		}
	}
}

// videoOf finds video v in its author's publish list, as this writer.
func (w *writer) videoOf(author, v int64) (reply, bool) {
	list, ok := w.read("/douyin/publish/list/", url.Values{"user_id": {itoa(author)}})
	if !ok {
		return nil, false
	}
	for _, video := range list.List("video_list") {
		if video.Int("id") == v {
			return video, true
		}
	}
	w.fail("video %d not in the publish list of %d", v, author)
	return nil, false
}

func (w *writer) likedIDs() []int64 { return trueKeys(w.liked) }

// sameIDs wants got to hold exactly want, in any order.
func (w *writer) sameIDs(what string, got, want []int64) {
	if !sameSet(got, want) {
		w.fail("%s %v, want %v", what, got, want)
	}
}

// sameSet reports whether a and b hold the same ids, in any order.
func sameSet(a, b []int64) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// agreeWith reads, through s, what every writer's writes add up to: each
// user's counters and lists, friends and their last messages, and the
// hot video's counts and comments.
func agreeWith(s *server, writers []*writer) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	a := api{base: s.base}
	followers := map[int64][]int64{}
	hotLikes, hotComments := 0, []int64{}
	for _, w := range writers {
		for _, to := range trueKeys(w.follows) {
			followers[to] = append(followers[to], w.id)
		}
		if w.liked[w.hot] {
			hotLikes++
		}
		hotComments = append(hotComments, w.comments[w.hot]...)
	}
	same := func(what string, got, want []int64) {
		if !sameSet(got, want) {
			fail("%s %v, want %v", what, got, want)
		}
	}
	for _, w := range writers {
		as := url.Values{"user_id": {itoa(w.id)}, "token": {w.token}}
		r, err := a.get("/douyin/user/", as)
		if err != nil {
			fail("user %d: %v", w.id, err)
			continue
		}
		u := r.Obj("user")
		for field, want := range map[string]int64{
			"favorite_count": int64(len(w.likedIDs())), "follow_count": int64(len(trueKeys(w.follows))),
			"follower_count": int64(len(followers[w.id])), "work_count": int64(len(w.titles)),
			"total_favorited": boolCount(w.liked[w.own]),
		} {
			if got := u.Int(field); got != want {
				fail("user %d's %s %d, want %d", w.id, field, got, want)
			}
		}
		var friends []int64
		for _, f := range followers[w.id] {
			if w.follows[f] {
				friends = append(friends, f)
			}
		}
		for _, l := range []struct {
			path, field string
			want        []int64
		}{
			{"/douyin/favorite/list/", "video_list", w.likedIDs()},
			{"/douyin/relation/follow/list/", "user_list", trueKeys(w.follows)},
			{"/douyin/relation/follower/list/", "user_list", followers[w.id]},
			{"/douyin/relation/friend/list/", "user_list", friends},
		} {
			r, err := a.get(l.path, as)
			if err != nil {
				fail("%s of %d: %v", l.path, w.id, err)
				continue
			}
			same(fmt.Sprintf("%s of %d:", l.path, w.id), ids(r.List(l.field)), l.want)
		}
	}
	r, err := a.get("/douyin/publish/list/", url.Values{"user_id": {itoa(writers[0].hotAuthor)}})
	if err != nil {
		return append(problems, err.Error())
	}
	if v := r.List("video_list"); len(v) != 1 || v[0].Int("favorite_count") != int64(hotLikes) || v[0].Int("comment_count") != int64(len(hotComments)) {
		fail("the hot video %v, want %d likes and %d comments", v, hotLikes, len(hotComments))
	}
	c, err := a.get("/douyin/comment/list/", url.Values{"video_id": {itoa(writers[0].hot)}})
	if err != nil {
		return append(problems, err.Error())
	}
	same("the hot video's comments", ids(c.List("comment_list")), hotComments)
	return problems
}

// ids are the "id" fields of a list's objects.
func ids(list []reply) []int64 {
	out := []int64{}
	for _, r := range list {
		out = append(out, r.Int("id"))
	}
	return out
}

func trueKeys(m map[int64]bool) []int64 {
	out := []int64{}
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	return out
}

func boolCount(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
