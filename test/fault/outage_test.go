package fault

import (
	"database/sql"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-lite/server/test/tcpproxy"
	"github.com/tiktok-lite/server/test/testenv"
)

// The server-side codes: internal error (a dependency failed) and busy (a
// dependency did not answer within the request's deadline).
const (
	internalError = 50001
	busy          = 50301
)

type account struct {
	id    int64
	token string
}

// scene is the data the outage tests act on: alice acts on bob and bob's
// video.
type scene struct {
	s          *server
	db         *sql.DB
	alice, bob account
	video      int64
	following  bool // alice follows bob
	liking     bool // alice likes the video
	step       int
	bound      time.Duration // how long each answer may take now
}

func newScene(t *testing.T, s *server, db *sql.DB) *scene {
	t.Helper()
	sc := &scene{s: s, db: db, bound: answerBound}
	suffix := testenv.RandomSuffix()
	sc.alice.id, sc.alice.token = s.register(t, "alice"+suffix)
	sc.bob.id, sc.bob.token = s.register(t, "bob"+suffix)
	sc.video = s.publish(t, sc.bob.token, "fault "+suffix)
	return sc
}

// warm reads everything the writes will make stale, so that Redis holds
// values an outage could leave behind.
func (sc *scene) warm(t *testing.T) {
	t.Helper()
	for _, q := range sc.reads() {
		ok(t, "warm "+q.path, sc.s.tryGet(q.path, q.params))
	}
}

type read struct {
	path   string
	params url.Values
}

func (sc *scene) reads() []read {
	return []read{
		{"/douyin/feed/", url.Values{}},
		{"/douyin/user/", url.Values{"user_id": {itoa(sc.bob.id)}}},
		{"/douyin/user/", url.Values{"user_id": {itoa(sc.alice.id)}, "token": {sc.alice.token}}},
		{"/douyin/publish/list/", url.Values{"user_id": {itoa(sc.bob.id)}}},
		{"/douyin/favorite/list/", url.Values{"user_id": {itoa(sc.alice.id)}}},
		{"/douyin/comment/list/", url.Values{"video_id": {itoa(sc.video)}}},
		{"/douyin/relation/follow/list/", url.Values{"user_id": {itoa(sc.alice.id)}}},
		{"/douyin/relation/follower/list/", url.Values{"user_id": {itoa(sc.bob.id)}}},
	}
}

type write struct {
	name    string
	path    string
	params  url.Values
	apply   func()               // what success changes in the scene's own record
	applied func() (bool, error) // whether the database shows the write
}

// writes toggles alice's follow and like and adds a comment and a message.
func (sc *scene) writes() []write {
	sc.step++
	follow, like := "1", "1"
	if sc.following {
		follow = "2"
	}
	if sc.liking {
		like = "2"
	}
	tok := sc.alice.token
	text := fmt.Sprintf("step %d", sc.step)
	name := "carol" + testenv.RandomSuffix()
	rows := func(want int64, query string, args ...any) func() (bool, error) {
		return func() (bool, error) {
			var n int64
			if err := sc.db.QueryRow(query, args...).Scan(&n); err != nil {
				return false, err
			}
			return n == want, nil
		}
	}
	followed, liked := int64(1), int64(1)
	if sc.following {
		followed = 0
	}
	if sc.liking {
		liked = 0
	}
	return []write{
		{"follow", "/douyin/relation/action/", url.Values{"token": {tok}, "to_user_id": {itoa(sc.bob.id)}, "action_type": {follow}},
			func() { sc.following = !sc.following },
			rows(followed, "SELECT COUNT(*) FROM follows WHERE user_id = ? AND to_user_id = ?", sc.alice.id, sc.bob.id)},
		{"like", "/douyin/favorite/action/", url.Values{"token": {tok}, "video_id": {itoa(sc.video)}, "action_type": {like}},
			func() { sc.liking = !sc.liking },
			rows(liked, "SELECT COUNT(*) FROM favorites WHERE user_id = ? AND video_id = ?", sc.alice.id, sc.video)},
		{"comment", "/douyin/comment/action/", url.Values{"token": {tok}, "video_id": {itoa(sc.video)}, "action_type": {"1"}, "comment_text": {text}},
			func() {}, rows(1, "SELECT COUNT(*) FROM comments WHERE video_id = ? AND content = ?", sc.video, text)},
		{"message", "/douyin/message/action/", url.Values{"token": {tok}, "to_user_id": {itoa(sc.bob.id)}, "action_type": {"1"}, "content": {text}},
			func() {}, rows(1, "SELECT COUNT(*) FROM messages WHERE from_user_id = ? AND content = ?", sc.alice.id, text)},
		{"register", "/douyin/user/register/", url.Values{"username": {name}, "password": {"secret1"}},
			func() {}, rows(1, "SELECT COUNT(*) FROM users WHERE name = ?", name)},
	}
}

// fresh compares what the API serves (through the cache) with the
// database; nil when nothing is stale.
func (sc *scene) fresh() error {
	var bobFollowers, videoLikes, videoComments int64
	if err := sc.db.QueryRow("SELECT follower_count FROM users WHERE id = ?", sc.bob.id).Scan(&bobFollowers); err != nil {
		return err
	}
	if err := sc.db.QueryRow("SELECT favorite_count, comment_count FROM videos WHERE id = ?", sc.video).Scan(&videoLikes, &videoComments); err != nil {
		return err
	}
	var liked, follows int64
	if err := sc.db.QueryRow("SELECT COUNT(*) FROM favorites WHERE user_id = ?", sc.alice.id).Scan(&liked); err != nil {
		return err
	}
	if err := sc.db.QueryRow("SELECT COUNT(*) FROM follows WHERE user_id = ?", sc.alice.id).Scan(&follows); err != nil {
		return err
	}
	get := func(r read) (reply, error) {
		a := sc.s.tryGet(r.path, r.params)
		if a.err != nil || a.Code() != 0 {
			return nil, fmt.Errorf("%s: %s", r.path, describe(a))
		}
		return a.reply, nil
	}
	rs := sc.reads()
	var problems []error
	if r, err := get(rs[1]); err != nil {
		problems = append(problems, err)
	} else if got := r.Obj("user").Int("follower_count"); got != bobFollowers {
		problems = append(problems, fmt.Errorf("bob's follower_count %d, database %d", got, bobFollowers))
	}
	if r, err := get(rs[3]); err != nil {
		problems = append(problems, err)
	} else if vs := r.List("video_list"); len(vs) != 1 || vs[0].Int("favorite_count") != videoLikes || vs[0].Int("comment_count") != videoComments {
		problems = append(problems, fmt.Errorf("bob's publish list %v, database favorite_count %d comment_count %d", vs, videoLikes, videoComments))
	}
	if r, err := get(rs[4]); err != nil {
		problems = append(problems, err)
	} else if got := len(r.List("video_list")); int64(got) != liked {
		problems = append(problems, fmt.Errorf("alice's favorite list has %d videos, database %d", got, liked))
	}
	if r, err := get(rs[5]); err != nil {
		problems = append(problems, err)
	} else if got := len(r.List("comment_list")); int64(got) != videoComments {
		problems = append(problems, fmt.Errorf("comment list has %d, database %d", got, videoComments))
	}
	if r, err := get(rs[6]); err != nil {
		problems = append(problems, err)
	} else if got := len(r.List("user_list")); int64(got) != follows {
		problems = append(problems, fmt.Errorf("alice's follow list has %d, database %d", got, follows))
	}
	if len(problems) > 0 {
		return fmt.Errorf("stale: %v", problems)
	}
	return nil
}

// attempt sends every write and read at once during an outage; each must
// be answered within the bound with one of the allowed codes. It returns
// the writes' answers, in order.
func (sc *scene) attempt(t *testing.T, writeCodes, readCodes []int64) []answer {
	t.Helper()
	ws, rs := sc.writes(), sc.reads()
	answers := make([]answer, len(ws)+len(rs))
	var wg sync.WaitGroup
	for i, w := range ws {
		if w.name == "register" {
			continue
		}
		wg.Go(func() { answers[i] = sc.s.tryPost(w.path, w.params) })
	}
	for i, r := range rs {
		wg.Go(func() { answers[len(ws)+i] = sc.s.tryGet(r.path, r.params) })
	}
	wg.Wait()
	// Register hashes a password: alone, so that a busy test machine's CPU
	// is not mistaken for a hang.
	for i, w := range ws {
		if w.name == "register" {
			answers[i] = sc.s.tryPost(w.path, w.params)
		}
	}
	for i, w := range ws {
		a := answers[i]
		t.Logf("%s: %s", w.name, describe(a))
		limit := sc.bound
		if w.name == "register" {
			limit = max(limit, answerBound) // bcrypt is CPU time, not a dependency's
		}
		bounded(t, w.name, a, limit)
		wantCodes(t, w.name, a, writeCodes...)
		if a.err != nil {
			continue
		}
		// What the client was told must be what happened: a failure
		// answered for a committed write invites a duplicate retry.
		applied, err := w.applied()
		if err != nil {
			t.Fatalf("%s: check the database: %v", w.name, err)
		}
		if succeeded := a.Code() == 0; applied != succeeded {
			t.Errorf("%s: answered %s, but the database shows it applied = %v", w.name, describe(a), applied)
		}
		if applied {
			w.apply()
		}
	}
	for i, r := range rs {
		a := answers[len(ws)+i]
		what := "GET " + r.path + "?" + r.params.Encode()
		bounded(t, what, a, sc.bound)
		wantCodes(t, what, a, readCodes...)
	}
	return answers[:len(ws)]
}

// wantReady waits until /readyz reports want for each named dependency
// (and 200 only when all are "ok"), and fails the test when it does not
// within the limit.
func wantReady(t *testing.T, s *server, within time.Duration, want map[string]string) time.Duration {
	t.Helper()
	took, err := readyAs(t, s, within, want)
	if err != nil {
		t.Fatalf("after %s: %v", took.Round(time.Millisecond), err)
	}
	return took
}

// reportsDown checks /readyz during an outage; a wrong report is an error
// but the test goes on to check the recovery.
func reportsDown(t *testing.T, s *server, want map[string]string) {
	t.Helper()
	if took, err := readyAs(t, s, answerBound, want); err != nil {
		t.Errorf("during the outage, after %s: %v", took.Round(time.Millisecond), err)
	}
}

func readyAs(t *testing.T, s *server, within time.Duration, want map[string]string) (time.Duration, error) {
	t.Helper()
	allOK := true
	for _, v := range want {
		allOK = allOK && v == "ok"
	}
	return eventually(within, func() error {
		r := s.ready()
		if r.err != nil {
			return r.err
		}
		if r.took > 2500*time.Millisecond {
			t.Errorf("/readyz took %s; its checks are bounded by 1s", r.took)
		}
		for k, v := range want {
			if r.deps[k] != v {
				return fmt.Errorf("/readyz: %v (HTTP %d), want %s %s", r.deps, r.status, k, v)
			}
		}
		if (r.status == 200) != allOK {
			return fmt.Errorf("/readyz: HTTP %d with %v", r.status, r.deps)
		}
		return nil
	})
}

// alive checks that /healthz does not depend on any service.
func alive(t *testing.T, s *server) {
	t.Helper()
	resp, err := client.Get(s.base + "/healthz")
	if err != nil {
		t.Fatalf("/healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz: HTTP %d during an outage, want 200", resp.StatusCode)
	}
}

func proxied(t *testing.T) func(string) link {
	return func(target string) link { return tcpproxy.Start(t, target) }
}

// TestMySQLOutage breaks the database link twice, first cut and then as a
// black hole. Every write must fail with the internal-error code within
// the bound, reads either come from the cache or fail the same way, none
// hangs, /readyz reports the database down, and all of it recovers by
// itself once the link is back; no failed write leaves a trace.
func TestMySQLOutage(t *testing.T) {
	var dbLink *tcpproxy.Proxy
	st := newStack(t, func(target string) link { dbLink = tcpproxy.Start(t, target); return dbLink }, proxied(t), proxied(t))
	s := start(t, st.env(t)...)
	db := st.db(t)
	sc := newScene(t, s, db)
	for _, phase := range []struct {
		name  string
		fail  func()
		codes []int64 // what a write may answer
	}{
		// A cut fails every statement at once.
		{"cut", dbLink.Cut, []int64{internalError}},
		// A black hole holds them until the request's deadline.
		{"black hole", dbLink.Blackhole, []int64{internalError, busy}},
	} {
		t.Run(phase.name, func(t *testing.T) {
			sc.warm(t)
			before := count(t, db, "SELECT COUNT(*) FROM comments")
			phase.fail()
			sc.bound = mysqlBound
			sc.attempt(t, phase.codes, append([]int64{0}, phase.codes...))
			// A second round: the pool must not be left holding requests.
			sc.attempt(t, phase.codes, append([]int64{0}, phase.codes...))
			sc.bound = answerBound
			alive(t, s)
			reportsDown(t, s, map[string]string{"database": "down", "redis": "ok", "rabbitmq": "ok"})

			dbLink.Restore()
			took := wantReady(t, s, recoverBound, map[string]string{"database": "ok", "redis": "ok", "rabbitmq": "ok"})
			t.Logf("ready %s after the link came back", took.Round(time.Millisecond))
			took, err := eventually(recoverBound, func() error {
				ws := sc.writes()
				a := s.tryPost(ws[2].path, ws[2].params)
				if a.err != nil || a.Code() != 0 {
					return fmt.Errorf("comment after recovery: %s", describe(a))
				}
				return nil
			})
			if err != nil {
				t.Fatalf("writes did not recover within %s: %v", recoverBound, err)
			}
			t.Logf("writes work %s after readiness", took.Round(time.Millisecond))
			if got := count(t, db, "SELECT COUNT(*) FROM comments"); got != before+1 {
				t.Errorf("comments: %d rows, want %d: a refused write left a row", got, before+1)
			}
			if _, err := eventually(recoverBound, sc.fresh); err != nil {
				t.Error(err)
			}
		})
	}
	checkCounters(t, db)
}

// TestRedisOutage cuts Redis, then makes it a black hole. Reads and writes
// keep working from the database within the bound, /readyz reports Redis
// down, and once Redis is back no value cached before the outage survives
// the writes made during it: their deletes went through RabbitMQ.
func TestRedisOutage(t *testing.T) {
	var redisLink *tcpproxy.Proxy
	st := newStack(t, proxied(t), func(target string) link { redisLink = tcpproxy.Start(t, target); return redisLink }, proxied(t))
	s := start(t, st.env(t)...)
	db := st.db(t)
	sc := newScene(t, s, db)
	staleDetected(t, sc)
	for _, phase := range []struct {
		name string
		fail func()
	}{
		{"cut", redisLink.Cut},
		{"black hole", redisLink.Blackhole},
	} {
		t.Run(phase.name, func(t *testing.T) {
			sc.warm(t)
			phase.fail()
			sc.bound = redisBound
			sc.attempt(t, []int64{0}, []int64{0})
			sc.attempt(t, []int64{0}, []int64{0})
			sc.bound = answerBound
			// Reads during the outage come from the database.
			if err := sc.fresh(); err != nil {
				t.Errorf("during the outage: %v", err)
			}
			alive(t, s)
			reportsDown(t, s, map[string]string{"database": "ok", "redis": "down", "rabbitmq": "ok"})

			redisLink.Restore()
			took := wantReady(t, s, recoverBound, map[string]string{"database": "ok", "redis": "ok", "rabbitmq": "ok"})
			t.Logf("ready %s after Redis came back", took.Round(time.Millisecond))
			took, err := eventually(recoverBound, sc.fresh)
			if err != nil {
				t.Fatalf("%s after Redis came back: %v", took.Round(time.Millisecond), err)
			}
			t.Logf("no stale value %s after readiness", took.Round(time.Millisecond))
		})
	}
	checkCounters(t, db)
	t.Logf("deletes retried: %v", s.metric(t, "tiktok_cache_delete_retries_total"))
}

// staleDetected shows that fresh can fail: a change made behind the
// server's back is invisible through the warm cache.
func staleDetected(t *testing.T, sc *scene) {
	t.Helper()
	// Past the second deletes (500 ms) of the scene's own writes, which
	// would otherwise drop what warm cached, and the bump with it.
	time.Sleep(time.Second)
	sc.warm(t)
	bump := func(by int) {
		if _, err := sc.db.Exec("UPDATE users SET follower_count = follower_count + ? WHERE id = ?", by, sc.bob.id); err != nil {
			t.Fatal(err)
		}
		if _, err := sc.db.Exec("UPDATE videos SET comment_count = comment_count + ? WHERE id = ?", by, sc.video); err != nil {
			t.Fatal(err)
		}
	}
	bump(1000)
	err := sc.fresh()
	bump(-1000)
	if err == nil || !strings.Contains(err.Error(), "follower_count") || !strings.Contains(err.Error(), "comment_count") {
		t.Fatalf("a change behind the cache's back: fresh() = %v, want both counters reported stale", err)
	}
	if err := sc.fresh(); err != nil {
		t.Fatalf("after undoing it: %v", err)
	}
}

// TestRabbitMQOutage cuts RabbitMQ alone, then RabbitMQ and Redis
// together, then cuts Redis while RabbitMQ is a black hole. Reads and
// writes keep working within the bound throughout; deletes that could
// reach neither wait in the process and are delivered once the services
// return, so nothing stays stale.
func TestRabbitMQOutage(t *testing.T) {
	var redisLink *tcpproxy.Proxy
	var mqLink *tcpproxy.Proxy
	st := newStack(t, proxied(t),
		func(target string) link { redisLink = tcpproxy.Start(t, target); return redisLink },
		func(target string) link { mqLink = tcpproxy.Start(t, target); return mqLink })
	s := start(t, st.env(t)...)
	db := st.db(t)
	sc := newScene(t, s, db)

	t.Run("rabbitmq cut", func(t *testing.T) {
		sc.warm(t)
		mqLink.Cut()
		sc.attempt(t, []int64{0}, []int64{0})
		reportsDown(t, s, map[string]string{"database": "ok", "redis": "ok", "rabbitmq": "down"})
		mqLink.Restore()
		took := wantReady(t, s, recoverBound, map[string]string{"database": "ok", "redis": "ok", "rabbitmq": "ok"})
		t.Logf("ready %s after RabbitMQ came back", took.Round(time.Millisecond))
		if err := sc.fresh(); err != nil {
			t.Error(err)
		}
	})

	t.Run("redis and rabbitmq cut", func(t *testing.T) {
		sc.warm(t)
		mqLink.Cut()
		redisLink.Cut()
		sc.bound = redisBound
		sc.attempt(t, []int64{0}, []int64{0})
		sc.bound = answerBound
		reportsDown(t, s, map[string]string{"database": "ok", "redis": "down", "rabbitmq": "down"})
		// The broker first: the buffered deletes reach the queue, and its
		// consumer retries them until Redis is back too.
		mqLink.Restore()
		wantReady(t, s, recoverBound, map[string]string{"redis": "down", "rabbitmq": "ok"})
		redisLink.Restore()
		wantReady(t, s, recoverBound, map[string]string{"database": "ok", "redis": "ok", "rabbitmq": "ok"})
		took, err := eventually(recoverBound, sc.fresh)
		if err != nil {
			t.Fatalf("%s after both came back: %v", took.Round(time.Millisecond), err)
		}
		t.Logf("no stale value %s after readiness", took.Round(time.Millisecond))
	})

	t.Run("rabbitmq black hole", func(t *testing.T) {
		sc.warm(t)
		mqLink.Blackhole()
		// A silent broker looks connected until its heartbeats time out;
		// readiness asks it a question instead.
		took := wantReady(t, s, 5*time.Second, map[string]string{"database": "ok", "redis": "ok", "rabbitmq": "down"})
		t.Logf("/readyz reported the silent broker down after %s", took.Round(time.Millisecond))
		sc.attempt(t, []int64{0}, []int64{0})
		mqLink.Restore()
		wantReady(t, s, recoverBound, map[string]string{"database": "ok", "redis": "ok", "rabbitmq": "ok"})
	})

	t.Run("redis cut, rabbitmq black hole", func(t *testing.T) {
		sc.warm(t)
		mqLink.Blackhole()
		redisLink.Cut()
		sc.bound = redisBound
		first := sc.attempt(t, []int64{0}, []int64{0})
		second := sc.attempt(t, []int64{0}, []int64{0})
		sc.bound = answerBound
		// Every delete fails and goes to the broker, which does not answer:
		// the writes must not wait for it.
		var times []time.Duration
		for _, a := range append(first, second...) {
			if a.err == nil && a.took > 0 {
				times = append(times, a.took)
			}
		}
		slices.Sort(times)
		if len(times) == 0 {
			t.Fatal("no write answered")
		}
		if median := times[len(times)/2]; median > 150*time.Millisecond {
			t.Errorf("writes took %v (median %v) with the broker silent: they wait for it", times, median)
		}
		redisLink.Restore()
		mqLink.Restore()
		wantReady(t, s, recoverBound, map[string]string{"database": "ok", "redis": "ok", "rabbitmq": "ok"})
		took, err := eventually(recoverBound, sc.fresh)
		if err != nil {
			t.Fatalf("%s after both came back: %v", took.Round(time.Millisecond), err)
		}
		t.Logf("no stale value %s after readiness", took.Round(time.Millisecond))
	})
	checkCounters(t, db)
	if lost := s.linesWith("cache delete lost"); len(lost) > 0 {
		t.Errorf("the server lost cache deletes: %v", lost)
	}
}

// While Redis is away the rate limits still hold, counted in the process.
func TestRateLimitsHoldWhileRedisIsDown(t *testing.T) {
	var redisLink *tcpproxy.Proxy
	st := newStack(t, direct, func(target string) link { redisLink = tcpproxy.Start(t, target); return redisLink }, nil)
	s := start(t, append(st.env(t), "TIKTOK_RATELIMIT_ENABLED=true", "TIKTOK_RATELIMIT_AUTH_PER_MINUTE=3")...)
	redisLink.Cut()
	name := "limited" + testenv.RandomSuffix()
	params := url.Values{"username": {name}, "password": {"secret1"}}
	wantCodes(t, "register with Redis down", s.tryPost("/douyin/user/register/", params), 0)
	for i := 2; i <= 3; i++ {
		wantCodes(t, fmt.Sprintf("login %d of 3", i), s.tryPost("/douyin/user/login/", params), 0)
	}
	wantCodes(t, "a 4th auth request within the minute", s.tryPost("/douyin/user/login/", params), 42901)
}

// TestRedisBlackHoleUnderLoad makes Redis silent while 32 clients read and
// write: requests in flight at that moment, and every one after it, are
// answered within the Redis bound, however many Redis calls each makes.
func TestRedisBlackHoleUnderLoad(t *testing.T) {
	var redisLink *tcpproxy.Proxy
	st := newStack(t, direct, func(target string) link { redisLink = tcpproxy.Start(t, target); return redisLink }, direct)
	s := start(t, st.env(t)...)
	sc := newScene(t, s, st.db(t))
	sc.warm(t)
	reads := sc.reads()
	tok := sc.alice.token
	var mu sync.Mutex
	var slowest answer
	var slowestWhat string
	failures := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 32 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var a answer
				what := ""
				switch i % 4 {
				case 0: // a write: a comment, which deletes cached keys
					what = "comment"
					a = s.tryPost("/douyin/comment/action/", url.Values{"token": {tok}, "video_id": {itoa(sc.video)},
						"action_type": {"1"}, "comment_text": {fmt.Sprintf("load %d-%d", c, i)}})
				default:
					r := reads[(c+i)%len(reads)]
					what = "GET " + r.path
					a = s.tryGet(r.path, r.params)
				}
				mu.Lock()
				if a.err != nil || a.Code() != 0 {
					failures++
				}
				if a.took > slowest.took {
					slowest, slowestWhat = a, what
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Second)
	mu.Lock()
	slowest = answer{}
	mu.Unlock()
	redisLink.Blackhole()
	time.Sleep(4 * time.Second)
	close(stop)
	wg.Wait()
	redisLink.Restore()
	t.Logf("slowest answer with Redis silent under load: %s %s", slowestWhat, describe(slowest))
	if slowest.took > redisBound {
		t.Errorf("%s answered after %s with Redis silent, bound %s", slowestWhat, slowest.took.Round(time.Millisecond), redisBound)
	}
	if failures > 0 {
		t.Errorf("%d requests failed with Redis silent; the database can answer them all", failures)
	}
}
