// Package fault drives the real tiktok-server binary against the real
// MySQL, Redis and RabbitMQ while the test breaks them: links cut or
// silently dropped between the server and a service, and SIGTERM in the
// middle of a load. Every request must be answered within a bound, the
// server must recover by itself, and nothing accepted may be lost.
package fault

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tiktok-lite/server/pkg/media"
	"github.com/tiktok-lite/server/pkg/mq"
	"github.com/tiktok-lite/server/test/testenv"
)

// binary is built once for the whole package by TestMain.
var binary string

func TestMain(m *testing.M) { testenv.RunWithServer(m, &binary) }

const (
	// requestTimeout is the server's per-request deadline in these tests.
	requestTimeout = 3 * time.Second
	// answerBound is how long any answer may take while a dependency is
	// broken: the deadline plus room for a slow, shared test machine.
	answerBound = requestTimeout + 2*time.Second
	// mysqlBound is the bound while MySQL is silent: no request outlives
	// its deadline by more than a second, COMMIT included.
	mysqlBound = requestTimeout + time.Second
	// redisTimeout is the server's redis.timeout in these tests; while
	// Redis is cut or silent every request is answered within a small
	// multiple of it, whatever number of Redis calls it makes, plus room
	// for a busy machine.
	redisTimeout = 500 * time.Millisecond
	redisBound   = 4*redisTimeout + time.Second
	// recoverBound is how long the server may take to notice a dependency
	// came back.
	recoverBound = 20 * time.Second
)

// link is the piece between the server and one service that a test breaks.
type link interface {
	Addr() string
	Cut()
	Restore()
}

// stack is one set of real services, each reached through its own link.
type stack struct {
	dsn      string // direct, for the test's own checks
	prefix   string // Redis key prefix
	queue    string // RabbitMQ name
	redis    string // direct Redis address
	amqpURL  string // direct RabbitMQ URL
	dbLink   link
	cacheLnk link // nil: no Redis
	mqLink   link // nil: no RabbitMQ
}

// newStack creates a fresh database, key prefix and queue name, with the
// links the caller makes for each service (nil leaves that service out).
func newStack(t *testing.T, dbLink func(target string) link, redisLink, mqLink func(target string) link) *stack {
	t.Helper()
	suffix := testenv.RandomSuffix()
	s := &stack{dsn: testenv.MySQLDatabase(t), prefix: "fault:" + suffix + ":", queue: "fault.cache." + suffix}
	cfg, err := mysql.ParseDSN(s.dsn)
	if err != nil {
		t.Fatal(err)
	}
	s.dbLink = dbLink(cfg.Addr)
	if redisLink != nil {
		s.redis = testenv.RedisAddr(t)
		s.cacheLnk = redisLink(s.redis)
		t.Cleanup(func() { deleteRedisPrefix(t, s.redis, s.prefix) })
	}
	if mqLink != nil {
		s.amqpURL = testenv.AMQPURL(t)
		u, err := url.Parse(s.amqpURL)
		if err != nil {
			t.Fatal(err)
		}
		s.mqLink = mqLink(u.Host)
		// Registered before any server starts, so it runs after the
		// servers' own clean-up has stopped them.
		t.Cleanup(func() { testenv.DeleteBrokerTopology(t, mq.Config{URL: s.amqpURL, Name: s.queue}) })
	}
	return s
}

// env is the server's environment for this stack, every service reached
// through its link.
func (s *stack) env(t *testing.T) []string {
	t.Helper()
	cfg, err := mysql.ParseDSN(s.dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = s.dbLink.Addr()
	env := []string{
		"TIKTOK_DATABASE_DRIVER=mysql",
		"TIKTOK_DATABASE_DSN=" + cfg.FormatDSN(),
		"TIKTOK_JWT_SECRET=" + strings.Repeat("fault-secret-", 4),
		"TIKTOK_SERVER_REQUEST_TIMEOUT=" + requestTimeout.String(),
	}
	if s.cacheLnk != nil {
		env = append(env, "TIKTOK_REDIS_ADDR="+s.cacheLnk.Addr(), "TIKTOK_REDIS_PREFIX="+s.prefix,
			"TIKTOK_REDIS_TIMEOUT="+redisTimeout.String())
	}
	if s.mqLink != nil {
		u, err := url.Parse(s.amqpURL)
		if err != nil {
			t.Fatal(err)
		}
		u.Host = s.mqLink.Addr()
		env = append(env, "TIKTOK_RABBITMQ_URL="+u.String(), "TIKTOK_RABBITMQ_QUEUE="+s.queue)
	}
	return env
}

// db opens the stack's database directly, around every link.
func (s *stack) db(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", s.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// server is one running binary and the test that drives it.
type server struct {
	*testenv.Server
	t    *testing.T
	base string
	logs *testenv.Logs
}

// start runs the binary with env and waits for /healthz.
func start(t *testing.T, env ...string) *server {
	t.Helper()
	p := testenv.StartServer(t, binary, "", env...)
	return &server{Server: p, t: t, base: p.Base, logs: p.Logs}
}

// errorLogs returns the server's error-level log messages.
func (s *server) errorLogs() []string {
	var out []string
	for _, e := range s.logs.Entries() {
		if e["level"] == "error" {
			out = append(out, fmt.Sprint(e["msg"], " ", e["error"]))
		}
	}
	return out
}

// reply is a decoded envelope with the rest of the body kept raw.
type reply = testenv.Reply

// client is generous with its own time-out: the tests measure how long
// answers take, they must not cut them short.
var client = &http.Client{Timeout: 30 * time.Second}

// answer is one request's outcome.
type answer struct {
	reply
	took time.Duration
	err  error
}

// envelope decodes a body that must be the JSON envelope with HTTP 200.
func envelope(resp *http.Response) (reply, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	var r reply
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("not JSON: %s", body)
	}
	if _, ok := r["status_code"]; !ok {
		return nil, fmt.Errorf("no status_code in %s", body)
	}
	return r, nil
}

func (s *server) do(req *http.Request) answer {
	begin := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return answer{took: time.Since(begin), err: err}
	}
	r, err := envelope(resp)
	return answer{reply: r, took: time.Since(begin), err: err}
}

func (s *server) tryGet(path string, params url.Values) answer {
	req, err := http.NewRequest(http.MethodGet, s.base+path+"?"+params.Encode(), nil)
	if err != nil {
		return answer{err: err}
	}
	return s.do(req)
}

func (s *server) tryPost(path string, params url.Values) answer {
	req, err := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(params.Encode()))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.do(req)
}

// get and post fail the test unless the request succeeds with code 0.
func (s *server) get(t *testing.T, path string, params url.Values) reply {
	t.Helper()
	return ok(t, "GET "+path, s.tryGet(path, params))
}

func (s *server) post(t *testing.T, path string, params url.Values) reply {
	t.Helper()
	return ok(t, "POST "+path, s.tryPost(path, params))
}

func ok(t *testing.T, what string, a answer) reply {
	t.Helper()
	if a.err != nil {
		t.Fatalf("%s: %v", what, a.err)
	}
	if a.Code() != 0 {
		t.Fatalf("%s: status_code %d (%q), want 0", what, a.Code(), a.Msg())
	}
	return a.reply
}

func (s *server) register(t *testing.T, name string) (int64, string) {
	t.Helper()
	r := s.post(t, "/douyin/user/register/", url.Values{"username": {name}, "password": {"secret1"}})
	return r.Int("user_id"), r.Str("token")
}

// publish uploads the sample clip and returns the new video's id.
func (s *server) publish(t *testing.T, token, title string) int64 {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range map[string]string{"token": token, "title": title} {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := w.CreateFormFile("data", "clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(media.SampleVideo()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.base+"/douyin/publish/action/", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	ok(t, "publish", s.do(req))
	list := s.get(t, "/douyin/publish/list/", url.Values{"user_id": {strconv.FormatInt(s.viewer(t, token), 10)}})
	for _, v := range list.List("video_list") {
		if v.Str("title") == title {
			return v.Int("id")
		}
	}
	t.Fatalf("published %q but it is not in the publish list", title)
	return 0
}

// viewer is the user id behind token.
func (s *server) viewer(t *testing.T, token string) int64 {
	t.Helper()
	return s.get(t, "/douyin/user/", url.Values{"token": {token}}).Obj("user").Int("id")
}

// readiness is /readyz's answer: the HTTP status and each dependency's
// state.
type readiness struct {
	status int
	deps   map[string]string
	took   time.Duration
	err    error
}

func (s *server) ready() readiness {
	begin := time.Now()
	resp, err := client.Get(s.base + "/readyz")
	if err != nil {
		return readiness{err: err, took: time.Since(begin)}
	}
	defer resp.Body.Close()
	var body struct {
		Ready bool              `json:"ready"`
		Deps  map[string]string `json:"dependencies"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return readiness{status: resp.StatusCode, err: err, took: time.Since(begin)}
	}
	if body.Ready != (resp.StatusCode == 200) {
		return readiness{status: resp.StatusCode, err: fmt.Errorf("ready %v with HTTP %d", body.Ready, resp.StatusCode)}
	}
	return readiness{status: resp.StatusCode, deps: body.Deps, took: time.Since(begin)}
}

// eventually polls cond every 200ms until it returns nil or limit passes,
// and returns how long that took or the last error.
func eventually(limit time.Duration, cond func() error) (time.Duration, error) {
	begin := time.Now()
	for {
		err := cond()
		if err == nil {
			return time.Since(begin), nil
		}
		if time.Since(begin) > limit {
			return time.Since(begin), err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// linesWith returns the log messages that contain text.
func (s *server) linesWith(text string) []string {
	var out []string
	for _, e := range s.logs.Entries() {
		if msg, _ := e["msg"].(string); strings.Contains(msg, text) {
			out = append(out, fmt.Sprint(e))
		}
	}
	return out
}

// metric sums every sample of the named metric on /metrics.
func (s *server) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := client.Get(s.Metrics + "/metrics")
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for line := range strings.SplitSeq(string(body), "\n") {
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != ' ' && line[len(name)] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// directLink reaches a service without anything in between.
type directLink string

func (d directLink) Addr() string { return string(d) }
func (directLink) Cut()           {}
func (directLink) Restore()       {}

func direct(target string) link { return directLink(target) }
