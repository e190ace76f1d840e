package fault

import (
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tiktok-lite/server/pkg/mq"
	"github.com/tiktok-lite/server/test/tcpproxy"
	"github.com/tiktok-lite/server/test/testenv"
)

// loadClient is one person using the app: it acts only on its own likes,
// follows, comments and messages, so it knows what the database must hold.
type loadClient struct {
	id       int
	user     account
	rng      *rand.Rand
	follows  map[int64]bool
	likes    map[int64]bool
	comments int
	messages int
}

// outcome of one request under load.
type outcome int

const (
	answered   outcome = iota // a valid envelope came back
	refused                   // no connection could be made
	unanswered                // the request was sent on a connection, no answer came back
	badAnswer                 // an answer that is not a valid envelope, or an error code
)

type loadResult struct {
	requestID string
	what      string
	outcome   outcome
	afterTerm bool // finished after SIGTERM
	detail    string
}

// loadRun drives clients against s until stop is closed.
type loadRun struct {
	s       *server
	users   []account
	videos  []int64
	http    *http.Client
	term    atomic.Bool
	mu      sync.Mutex
	results []loadResult
}

func (l *loadRun) record(r loadResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.results = append(l.results, r)
}

// send makes one request and classifies what came back.
func (l *loadRun) send(c *loadClient, seq int, method, path string, params url.Values) outcome {
	id := fmt.Sprintf("load-%d-%d", c.id, seq)
	var req *http.Request
	var err error
	if method == http.MethodGet {
		req, err = http.NewRequest(method, l.s.base+path+"?"+params.Encode(), nil)
	} else {
		req, err = http.NewRequest(method, l.s.base+path, strings.NewReader(params.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		l.record(loadResult{requestID: id, what: path, outcome: badAnswer, detail: err.Error()})
		return badAnswer
	}
	req.Header.Set("X-Request-ID", id)
	var connected atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { connected.Store(true) },
	}))
	res := loadResult{requestID: id, what: method + " " + path}
	resp, err := l.http.Do(req)
	// A request written just as SIGTERM closed its idle connection fails
	// after SIGTERM, whenever it started.
	res.afterTerm = l.term.Load()
	switch {
	case err != nil && !connected.Load():
		res.outcome, res.detail = refused, err.Error()
	case err != nil:
		res.outcome, res.detail = unanswered, err.Error()
	default:
		r, err := envelope(resp)
		switch {
		case err != nil:
			res.outcome, res.detail = badAnswer, err.Error()
		case r.Code() != 0:
			res.outcome, res.detail = badAnswer, fmt.Sprintf("status_code %d %q", r.Code(), r.Msg())
		default:
			res.outcome = answered
		}
	}
	l.record(res)
	return res.outcome
}

// act makes one request of a mix of reads and writes and returns its
// outcome; a write the server confirmed goes into the client's record.
func (l *loadRun) act(c *loadClient, seq int) outcome {
	other := l.users[c.rng.IntN(len(l.users))]
	if other.id == c.user.id {
		other = l.users[(slices.Index(l.users, other)+1)%len(l.users)]
	}
	video := l.videos[c.rng.IntN(len(l.videos))]
	tok := c.user.token
	method, path, params := http.MethodGet, "", url.Values{}
	var confirmed func()
	toggle := func(on bool) string {
		if on {
			return "2"
		}
		return "1"
	}
	switch p := c.rng.IntN(100); {
	case p < 12:
		action := toggle(c.follows[other.id])
		method, path = http.MethodPost, "/douyin/relation/action/"
		params = url.Values{"token": {tok}, "to_user_id": {itoa(other.id)}, "action_type": {action}}
		confirmed = func() { c.follows[other.id] = action == "1" }
	case p < 27:
		action := toggle(c.likes[video])
		method, path = http.MethodPost, "/douyin/favorite/action/"
		params = url.Values{"token": {tok}, "video_id": {itoa(video)}, "action_type": {action}}
		confirmed = func() { c.likes[video] = action == "1" }
	case p < 35:
		method, path = http.MethodPost, "/douyin/comment/action/"
		params = url.Values{"token": {tok}, "video_id": {itoa(video)}, "action_type": {"1"}, "comment_text": {fmt.Sprintf("c%d", seq)}}
		confirmed = func() { c.comments++ }
	case p < 40:
		method, path = http.MethodPost, "/douyin/message/action/"
		params = url.Values{"token": {tok}, "to_user_id": {itoa(other.id)}, "action_type": {"1"}, "content": {fmt.Sprintf("m%d", seq)}}
		confirmed = func() { c.messages++ }
	case p < 55:
		path, params = "/douyin/feed/", url.Values{"token": {tok}}
	case p < 65:
		path, params = "/douyin/user/", url.Values{"user_id": {itoa(other.id)}, "token": {tok}}
	case p < 72:
		path, params = "/douyin/favorite/list/", url.Values{"user_id": {itoa(other.id)}}
	case p < 79:
		path, params = "/douyin/comment/list/", url.Values{"video_id": {itoa(video)}}
	case p < 86:
		path, params = "/douyin/relation/follower/list/", url.Values{"user_id": {itoa(other.id)}}
	case p < 93:
		path, params = "/douyin/publish/list/", url.Values{"user_id": {itoa(other.id)}, "token": {tok}}
	default:
		path, params = "/douyin/message/chat/", url.Values{"token": {tok}, "to_user_id": {itoa(other.id)}}
	}
	out := l.send(c, seq, method, path, params)
	if out == answered && confirmed != nil {
		confirmed()
	}
	return out
}

// shutdownScenario is one way the stack may stand when SIGTERM arrives.
type shutdownScenario struct {
	name string
	// redisDown cuts Redis shortly before SIGTERM, so that the deletes of
	// the last writes can only go to RabbitMQ and must reach it before
	// the process exits.
	redisDown bool
}

// TestShutdownUnderLoad sends SIGTERM while clients read and write and
// keep going. Every request sent before SIGTERM is answered; after it,
// requests are answered or refused at connect, and any sent on a
// connection but never answered must be one the server never took (its
// access log has no line for it). The server exits cleanly with no cache
// delete lost or left pending. A restarted server on the same database,
// Redis prefix and queue then shows every write each client was told
// succeeded, counters equal to their rows, and no stale cached value.
func TestShutdownUnderLoad(t *testing.T) {
	for _, sc := range []shutdownScenario{
		{name: "all services up"},
		{name: "redis down at shutdown", redisDown: true},
	} {
		t.Run(sc.name, func(t *testing.T) { shutdownUnderLoad(t, sc) })
	}
}

func shutdownUnderLoad(t *testing.T, sc shutdownScenario) {
	var redisLink *tcpproxy.Proxy
	st := newStack(t, direct, func(target string) link { redisLink = tcpproxy.Start(t, target); return redisLink }, direct)
	env := st.env(t)
	a := start(t, env...)
	db := st.db(t)

	const clients = 10
	suffix := testenv.RandomSuffix()
	run := &loadRun{s: a, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute},
	}}
	t.Cleanup(run.http.CloseIdleConnections)
	for i := range clients {
		var u account
		u.id, u.token = a.register(t, fmt.Sprintf("load%d_%s", i, suffix))
		run.users = append(run.users, u)
	}
	for i := range 2 {
		run.videos = append(run.videos, a.publish(t, run.users[i].token, fmt.Sprintf("load %d %s", i, suffix)))
	}

	// The load runs this long before SIGTERM, and on until the server has
	// exited and a little longer, so that the refusals are seen too.
	const before, tail = 2500 * time.Millisecond, 500 * time.Millisecond
	stop := make(chan struct{})
	var wg sync.WaitGroup
	cs := make([]*loadClient, clients)
	for i := range clients {
		c := &loadClient{id: i, user: run.users[i], rng: rand.New(rand.NewPCG(uint64(i), 42)), follows: map[int64]bool{}, likes: map[int64]bool{}}
		cs[i] = c
		wg.Go(func() {
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				if run.act(c, seq) == refused {
					time.Sleep(20 * time.Millisecond) // the server is gone; do not spin
				}
			}
		})
	}

	time.Sleep(before)
	if sc.redisDown {
		redisLink.Cut()
		time.Sleep(700 * time.Millisecond)
	}
	run.term.Store(true)
	termAt := time.Now()
	if err := a.Signal(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	err := a.Wait(30 * time.Second)
	exitTook := time.Since(termAt)
	time.Sleep(tail)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("%v\n%s", err, a.logs)
	}
	t.Logf("server exited %s after SIGTERM", exitTook.Round(time.Millisecond))

	// What the server says it took: one access-log line per request.
	taken := map[string]int64{}
	for _, e := range a.logs.Entries() {
		if e["msg"] == "request" {
			id, _ := e["request_id"].(string)
			code, _ := e["status_code"].(float64)
			taken[id] = int64(code)
		}
	}
	counts := map[string]int{}
	for _, r := range run.results {
		_, tookIt := taken[r.requestID]
		switch {
		case r.outcome == answered:
			counts["answered"]++
		case r.outcome == badAnswer:
			counts["bad answer"]++
			t.Errorf("%s (%s): %s", r.what, r.requestID, r.detail)
		case !r.afterTerm:
			counts["failed before SIGTERM"]++
			t.Errorf("%s (%s) failed before SIGTERM: %s", r.what, r.requestID, r.detail)
		case r.outcome == refused:
			counts["refused at connect"]++
		case tookIt:
			counts["lost"]++
			t.Errorf("%s (%s): the server handled it (code %d) but the client got no answer: %s", r.what, r.requestID, taken[r.requestID], r.detail)
		default:
			// Sent on a kept-alive connection the server was closing, or
			// into the listen queue as the listener closed: never taken.
			counts["not taken"]++
		}
	}
	afterTerm := 0
	for _, r := range run.results {
		if r.afterTerm {
			afterTerm++
		}
	}
	loadTaken := 0
	for id := range taken {
		if strings.HasPrefix(id, "load-") {
			loadTaken++
		}
	}
	t.Logf("sent %d (%d finished after SIGTERM): %v; the server logged %d of them", len(run.results), afterTerm, counts, loadTaken)
	if counts["answered"] != loadTaken {
		t.Errorf("the client got %d answers, the server logged %d requests", counts["answered"], loadTaken)
	}
	if afterTerm == 0 || counts["refused at connect"] == 0 {
		t.Errorf("the load did not run on past SIGTERM: %d requests after it, %d refused", afterTerm, counts["refused at connect"])
	}
	for _, bad := range []string{"pending cache deletes", "cache delete lost", "rabbitmq close", "server stopped"} {
		if lines := a.linesWith(bad); len(lines) > 0 {
			t.Errorf("shutdown logged %q: %v", bad, lines)
		}
	}
	if len(a.linesWith("stopped")) == 0 {
		t.Errorf("no \"stopped\" line: the shutdown did not finish its steps\n%s", a.logs)
	}

	if sc.redisDown {
		// The deletes of the last writes must be waiting in the queue.
		if n := queued(t, st); n == 0 {
			t.Errorf("Redis was down for the last writes, but the queue %s holds no delete", st.queue)
		} else {
			t.Logf("%d deletes waited in RabbitMQ across the restart", n)
		}
		redisLink.Restore()
	}

	// Nothing lost: the database holds what each client was told.
	for _, c := range cs {
		wantSet(t, db, fmt.Sprintf("client %d follows", c.id), "SELECT to_user_id FROM follows WHERE user_id = ?", c.user.id, c.follows)
		wantSet(t, db, fmt.Sprintf("client %d likes", c.id), "SELECT video_id FROM favorites WHERE user_id = ?", c.user.id, c.likes)
		if got := count(t, db, "SELECT COUNT(*) FROM comments WHERE user_id = ?", c.user.id); got != int64(c.comments) {
			t.Errorf("client %d: %d comments stored, %d answered as added", c.id, got, c.comments)
		}
		if got := count(t, db, "SELECT COUNT(*) FROM messages WHERE from_user_id = ?", c.user.id); got != int64(c.messages) {
			t.Errorf("client %d: %d messages stored, %d answered as sent", c.id, got, c.messages)
		}
	}
	checkCounters(t, db)

	// No stale cache: a new server on the same Redis prefix serves what
	// the database holds.
	b := start(t, env...)
	took, err := eventually(recoverBound, func() error { return agrees(b, db, run.users, run.videos) })
	if err != nil {
		t.Errorf("after restart: %v", err)
	} else {
		t.Logf("the restarted server agreed with the database after %s", took.Round(time.Millisecond))
	}
}

// wantSet compares the ids a query returns with the client's record.
func wantSet(t *testing.T, db *sql.DB, what, query string, arg int64, want map[int64]bool) {
	t.Helper()
	rows, err := db.Query(query, arg)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var exp []int64
	for id, on := range want {
		if on {
			exp = append(exp, id)
		}
	}
	slices.Sort(got)
	slices.Sort(exp)
	if !slices.Equal(got, exp) {
		t.Errorf("%s: database %v, answered %v", what, got, exp)
	}
}

// agrees reads every user and video through the server (and so through
// Redis) and compares with the database.
func agrees(s *server, db *sql.DB, users []account, videos []int64) error {
	var problems []string
	for _, u := range users {
		a := s.tryGet("/douyin/user/", url.Values{"user_id": {itoa(u.id)}})
		if a.err != nil || a.Code() != 0 {
			return fmt.Errorf("user %d: %s", u.id, describe(a))
		}
		got := a.Obj("user")
		var row [5]int64
		if err := db.QueryRow("SELECT follow_count, follower_count, total_favorited, work_count, favorite_count FROM users WHERE id = ?", u.id).
			Scan(&row[0], &row[1], &row[2], &row[3], &row[4]); err != nil {
			return err
		}
		for i, f := range []string{"follow_count", "follower_count", "total_favorited", "work_count", "favorite_count"} {
			if got.Int(f) != row[i] {
				problems = append(problems, fmt.Sprintf("user %d %s %d, database %d", u.id, f, got.Int(f), row[i]))
			}
		}
		for _, l := range []struct{ path, key, query string }{
			{"/douyin/favorite/list/", "video_list", "SELECT COUNT(*) FROM favorites WHERE user_id = ?"},
			{"/douyin/relation/follow/list/", "user_list", "SELECT COUNT(*) FROM follows WHERE user_id = ?"},
			{"/douyin/relation/follower/list/", "user_list", "SELECT COUNT(*) FROM follows WHERE to_user_id = ?"},
		} {
			a := s.tryGet(l.path, url.Values{"user_id": {itoa(u.id)}})
			if a.err != nil || a.Code() != 0 {
				return fmt.Errorf("%s of %d: %s", l.path, u.id, describe(a))
			}
			var n int64
			if err := db.QueryRow(l.query, u.id).Scan(&n); err != nil {
				return err
			}
			if got := int64(len(a.List(l.key))); got != n {
				problems = append(problems, fmt.Sprintf("%s of user %d lists %d, database %d", l.path, u.id, got, n))
			}
		}
	}
	for _, v := range videos {
		a := s.tryGet("/douyin/comment/list/", url.Values{"video_id": {itoa(v)}})
		if a.err != nil || a.Code() != 0 {
			return fmt.Errorf("comments of %d: %s", v, describe(a))
		}
		var likes, comments int64
		if err := db.QueryRow("SELECT favorite_count, comment_count FROM videos WHERE id = ?", v).Scan(&likes, &comments); err != nil {
			return err
		}
		if got := int64(len(a.List("comment_list"))); got != comments {
			problems = append(problems, fmt.Sprintf("video %d lists %d comments, database %d", v, got, comments))
		}
		feed := s.tryGet("/douyin/feed/", url.Values{})
		if feed.err != nil || feed.Code() != 0 {
			return fmt.Errorf("feed: %s", describe(feed))
		}
		for _, fv := range feed.List("video_list") {
			if fv.Int("id") == v && (fv.Int("favorite_count") != likes || fv.Int("comment_count") != comments) {
				problems = append(problems, fmt.Sprintf("video %d in the feed: %d likes %d comments, database %d and %d",
					v, fv.Int("favorite_count"), fv.Int("comment_count"), likes, comments))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// queued is the number of messages in the stack's work and delay queues.
func queued(t *testing.T, st *stack) int {
	t.Helper()
	_, queues, err := mq.Declared(mq.Config{URL: st.amqpURL, Name: st.queue})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := amqp.Dial(st.amqpURL)
	if err != nil {
		t.Fatalf("rabbitmq: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("rabbitmq: %v", err)
	}
	defer ch.Close()
	n := 0
	for _, name := range queues {
		q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
		if err != nil {
			t.Fatalf("queue %s: %v", name, err)
		}
		n += q.Messages
	}
	return n
}
