// Command soak runs mixed traffic against a full-stack tiktok-server for a
// bounded time, samples its /metrics, prints a table and fails when
// goroutines, database connections or memory keep growing after warm-up.
//
// With -binary it starts the server itself on a fresh MySQL database, a
// fresh Redis key prefix and RabbitMQ queue, and removes them afterwards;
// with -base it drives a server that is already running.
package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/tiktok-lite/server/pkg/media"
	"github.com/tiktok-lite/server/pkg/mq"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	binary   string
	base     string
	metrics  string
	duration time.Duration
	warmup   time.Duration
	interval time.Duration
	clients  int
	rate     float64
	users    int
	report   string

	maxGoroutineGrowth float64 // allowed rise after warm-up, as a share
	maxConnGrowth      float64
	maxRSSGrowth       float64
	maxErrorRate       float64
}

func parse(args []string, getenv func(string) string, out io.Writer) (options, error) {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(out)
	var o options
	def := 10 * time.Minute
	if v := getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return o, fmt.Errorf("SOAK_DURATION: %w", err)
		}
		def = d
	}
	fs.StringVar(&o.binary, "binary", "", "server binary to start on fresh MySQL, Redis and RabbitMQ names")
	fs.StringVar(&o.base, "base", "", "base URL of a running server (instead of -binary)")
	fs.StringVar(&o.metrics, "metrics", "http://127.0.0.1:9464", "base URL of that server's metrics listener (server.metrics_addr)")
	fs.DurationVar(&o.duration, "duration", def, "how long to send traffic (SOAK_DURATION)")
	fs.DurationVar(&o.warmup, "warmup", 0, "samples before this are not compared (default a fifth of -duration, at most 1m)")
	fs.DurationVar(&o.interval, "interval", 10*time.Second, "time between /metrics samples")
	fs.IntVar(&o.clients, "clients", 16, "concurrent clients")
	fs.Float64Var(&o.rate, "rate", 150, "requests per second, all clients together")
	fs.IntVar(&o.users, "users", 40, "accounts to create")
	fs.StringVar(&o.report, "report", "", "also write the table as Markdown to this file")
	fs.Float64Var(&o.maxGoroutineGrowth, "max-goroutine-growth", 0.25, "allowed goroutine rise after warm-up (share; 10 more are always allowed)")
	fs.Float64Var(&o.maxConnGrowth, "max-conn-growth", 0.5, "allowed rise of open database connections after warm-up (share; 4 more are always allowed)")
	fs.Float64Var(&o.maxRSSGrowth, "max-rss-growth", 0.5, "allowed resident memory rise after warm-up (share)")
	fs.Float64Var(&o.maxErrorRate, "max-error-rate", 0.001, "allowed share of failed requests")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if (o.binary == "") == (o.base == "") {
		return o, errors.New("give exactly one of -binary and -base")
	}
	if o.warmup == 0 {
		o.warmup = min(o.duration/5, time.Minute)
	}
	if o.duration <= o.warmup || o.interval <= 0 || o.clients <= 0 || o.rate <= 0 || o.users < 2 {
		return o, errors.New("need -duration > -warmup, and positive -interval, -clients, -rate and -users >= 2")
	}
	return o, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	o, err := parse(args, getenv, stdout)
	if err != nil {
		return err
	}
	base, metrics := strings.TrimRight(o.base, "/"), strings.TrimRight(o.metrics, "/")
	if o.binary != "" {
		srv, err := startServer(ctx, o.binary, getenv, stdout)
		if err != nil {
			return err
		}
		defer func() {
			if err := srv.close(); err != nil {
				fmt.Fprintln(stdout, "soak: clean up:", err)
			}
		}()
		base, metrics = srv.base, srv.metrics
	}
	d := &driver{base: base, metrics: metrics, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: o.clients * 2, IdleConnTimeout: time.Minute},
	}}
	defer d.http.CloseIdleConnections()
	fmt.Fprintf(stdout, "soak: %s against %s, %d clients, %.0f req/s, sample every %s, warm-up %s\n",
		o.duration, base, o.clients, o.rate, o.interval, o.warmup)
	if err := d.setUp(ctx, o.users); err != nil {
		return err
	}
	samples, err := d.soak(ctx, o)
	if err != nil {
		return err
	}
	verdict := judge(o, samples)
	table := render(samples, o.warmup)
	fmt.Fprint(stdout, table.text)
	for _, line := range verdict.lines {
		fmt.Fprintln(stdout, line)
	}
	for kind, n := range d.failLog {
		fmt.Fprintf(stdout, "failure x%d: %s\n", n, kind)
	}
	if o.report != "" {
		md := table.markdown + "\n" + strings.Join(verdict.lines, "\n") + "\n"
		if err := os.WriteFile(o.report, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if !verdict.ok {
		return errors.New("the soak failed; see above")
	}
	return nil
}

// --- the server under test, when the tool starts it ----------------------

type server struct {
	cmd     *exec.Cmd
	base    string
	metrics string
	exited  chan error
	cleanup []func() error
}

func getenvOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func randomSuffix() string {
	return strconv.FormatUint(rand.Uint64()&0xffffffff, 16)
}

// startServer creates a fresh database, key prefix and queue and starts the
// binary on them.
func startServer(ctx context.Context, binary string, getenv func(string) string, stdout io.Writer) (*server, error) {
	s := &server{exited: make(chan error, 1)}
	suffix := randomSuffix()
	dsnCfg, err := mysql.ParseDSN(getenvOr(getenv, "TIKTOK_TEST_MYSQL_DSN", "root:@tcp(127.0.0.1:3306)/?charset=utf8mb4&parseTime=true&loc=UTC"))
	if err != nil {
		return nil, fmt.Errorf("TIKTOK_TEST_MYSQL_DSN: %w", err)
	}
	dsnCfg.DBName = ""
	admin, err := sql.Open("mysql", dsnCfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	name := "tiktok_soak_" + suffix
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		admin.Close()
		return nil, fmt.Errorf("create database: %w", err)
	}
	s.cleanup = append(s.cleanup, func() error {
		defer admin.Close()
		_, err := admin.Exec("DROP DATABASE IF EXISTS `" + name + "`")
		return err
	})
	dsnCfg.DBName = name
	redisAddr := getenvOr(getenv, "TIKTOK_TEST_REDIS_ADDR", "127.0.0.1:6379")
	prefix := "soak:" + suffix + ":"
	s.cleanup = append(s.cleanup, func() error { return deleteKeys(redisAddr, prefix) })
	amqpURL := getenvOr(getenv, "TIKTOK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
	queue := "soak.cache." + suffix
	s.cleanup = append(s.cleanup, func() error { return deleteTopology(amqpURL, queue) })

	dataDir, err := os.MkdirTemp("", "tiktok-soak-")
	if err != nil {
		return nil, s.fail(err)
	}
	s.cleanup = append(s.cleanup, func() error { return os.RemoveAll(dataDir) })
	logPath := filepath.Join(dataDir, "server.log")
	s.cmd = exec.Command(binary)
	s.cmd.Dir = dataDir
	s.cmd.Env = append(os.Environ(),
		"TIKTOK_SERVER_ADDR=127.0.0.1:0",
		"TIKTOK_SERVER_METRICS_ADDR=127.0.0.1:0",
		"TIKTOK_DATA_DIR="+dataDir,
		"TIKTOK_LOG_FORMAT=json",
		"TIKTOK_LOG_FILE=",
		"TIKTOK_SEED_DEMO=false",
		"TIKTOK_RATELIMIT_ENABLED=false",
		"TIKTOK_DATABASE_DRIVER=mysql",
		"TIKTOK_DATABASE_DSN="+dsnCfg.FormatDSN(),
		"TIKTOK_JWT_SECRET="+strings.Repeat("soak-secret-", 4),
		"TIKTOK_REDIS_ADDR="+redisAddr,
		"TIKTOK_REDIS_PREFIX="+prefix,
		"TIKTOK_RABBITMQ_URL="+amqpURL,
		"TIKTOK_RABBITMQ_QUEUE="+queue,
	)
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, s.fail(err)
	}
	s.cmd.Stderr = s.cmd.Stdout
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, s.fail(err)
	}
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return nil, s.fail(err)
	}
	// The server log goes to a file; only the listeners' lines are read here.
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if _, err := logFile.Write(append(line, '\n')); err != nil {
				fmt.Fprintln(stdout, "soak: server log:", err)
			}
			var e struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &e) != nil {
				continue
			}
			switch e.Msg {
			case "serving metrics": // logged before "listening"
				s.metrics = "http://" + e.Addr
			case "listening":
				addr <- e.Addr
			}
		}
		logFile.Close()
		s.exited <- s.cmd.Wait()
	}()
	select {
	case a := <-addr:
		s.base = "http://" + a
	case err := <-s.exited:
		return nil, s.fail(fmt.Errorf("server exited during start-up: %v (log %s)", err, logPath))
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		return nil, s.fail(errors.New("server did not start within 60s"))
	}
	fmt.Fprintf(stdout, "soak: server %s on database %s, prefix %s, queue %s\n", s.base, name, prefix, queue)
	return s, nil
}

// fail runs the clean-up and returns err.
func (s *server) fail(err error) error {
	return errors.Join(err, s.runCleanup())
}

func (s *server) runCleanup() error {
	var errs []error
	for _, f := range slices.Backward(s.cleanup) {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}

// close stops the server with SIGTERM and removes what startServer made.
func (s *server) close() error {
	var errs []error
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		errs = append(errs, err)
	}
	select {
	case err := <-s.exited:
		if err != nil {
			errs = append(errs, fmt.Errorf("server exit: %w", err))
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		errs = append(errs, errors.New("server did not stop within 30s of SIGTERM"))
	}
	errs = append(errs, s.runCleanup())
	return errors.Join(errs...)
}

func deleteKeys(addr, prefix string) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("scan redis: %w", err)
	}
	for batch := range slices.Chunk(keys, 500) {
		if err := rdb.Del(ctx, batch...).Err(); err != nil {
			return fmt.Errorf("clean redis: %w", err)
		}
	}
	return nil
}

func deleteTopology(url, name string) error {
	exchange, queues, err := mq.Declared(mq.Config{URL: url, Name: name})
	if err != nil {
		return err
	}
	conn, err := amqp.Dial(url)
	if err != nil {
		return fmt.Errorf("clean rabbitmq: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("clean rabbitmq: %w", err)
	}
	for _, q := range queues {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			return fmt.Errorf("delete queue %s: %w", q, err)
		}
	}
	if err := ch.ExchangeDelete(exchange, false, false); err != nil {
		return fmt.Errorf("delete exchange %s: %w", exchange, err)
	}
	return nil
}

// --- traffic --------------------------------------------------------------

type account struct {
	id    int64
	token string
}

type driver struct {
	base    string
	metrics string // the metrics listener
	http    *http.Client
	users   []account
	videos  []int64

	requests atomic.Int64
	failures atomic.Int64
	mu       sync.Mutex
	latency  []time.Duration // since the last sample
	failLog  map[string]int  // first failures by kind, for the report
}

// call sends one request and decodes the envelope; a non-zero code is an
// error.
func (d *driver) call(ctx context.Context, method, path string, params url.Values) (map[string]any, error) {
	var req *http.Request
	var err error
	if method == http.MethodGet {
		req, err = http.NewRequestWithContext(ctx, method, d.base+path+"?"+params.Encode(), nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, d.base+path, strings.NewReader(params.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return nil, err
	}
	return d.do(req)
}

func (d *driver) do(req *http.Request) (map[string]any, error) {
	resp, err := d.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var r map[string]any
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("not JSON: %.80s", body)
	}
	if code, _ := r["status_code"].(float64); code != 0 {
		return r, fmt.Errorf("status_code %v %v", r["status_code"], r["status_msg"])
	}
	return r, nil
}

func (d *driver) setUp(ctx context.Context, users int) error {
	suffix := randomSuffix()
	for i := range users {
		r, err := d.call(ctx, http.MethodPost, "/douyin/user/register/", url.Values{"username": {fmt.Sprintf("soak%d_%s", i, suffix)}, "password": {"secret1"}})
		if err != nil {
			return fmt.Errorf("register: %w", err)
		}
		id, _ := r["user_id"].(float64)
		tok, _ := r["token"].(string)
		d.users = append(d.users, account{int64(id), tok})
	}
	for i := range 4 {
		id, err := d.publish(ctx, d.users[i%len(d.users)], fmt.Sprintf("soak %d %s", i, suffix))
		if err != nil {
			return err
		}
		d.videos = append(d.videos, id)
	}
	return nil
}

func (d *driver) publish(ctx context.Context, u account, title string) (int64, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if err := w.WriteField("token", u.token); err != nil {
		return 0, err
	}
	if err := w.WriteField("title", title); err != nil {
		return 0, err
	}
	fw, err := w.CreateFormFile("data", "clip.mp4")
	if err != nil {
		return 0, err
	}
	if _, err := fw.Write(media.SampleVideo()); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+"/douyin/publish/action/", &body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	if _, err := d.do(req); err != nil {
		return 0, fmt.Errorf("publish: %w", err)
	}
	r, err := d.call(ctx, http.MethodGet, "/douyin/publish/list/", url.Values{"user_id": {strconv.FormatInt(u.id, 10)}})
	if err != nil {
		return 0, fmt.Errorf("publish list: %w", err)
	}
	list, _ := r["video_list"].([]any)
	for _, v := range list {
		m, _ := v.(map[string]any)
		if m["title"] == title {
			id, _ := m["id"].(float64)
			return int64(id), nil
		}
	}
	return 0, fmt.Errorf("published %q but it is not listed", title)
}

// client is one person: it likes and unlikes, follows and unfollows,
// comments, chats and polls, and browses.
type client struct {
	me      account
	rng     *rand.Rand
	likes   map[int64]bool
	follows map[int64]bool
	lastMsg map[int64]int64 // poll position per chat partner
}

func (d *driver) step(ctx context.Context, c *client, seq int) error {
	other := d.users[c.rng.IntN(len(d.users))]
	if other.id == c.me.id {
		other = d.users[(slices.Index(d.users, other)+1)%len(d.users)]
	}
	video := d.videos[c.rng.IntN(len(d.videos))]
	tok := c.me.token
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	toggle := func(on bool) string {
		if on {
			return "2"
		}
		return "1"
	}
	switch p := c.rng.IntN(100); {
	case p < 8:
		a := toggle(c.likes[video])
		_, err := d.call(ctx, http.MethodPost, "/douyin/favorite/action/", url.Values{"token": {tok}, "video_id": {id(video)}, "action_type": {a}})
		if err == nil {
			c.likes[video] = a == "1"
		}
		return err
	case p < 14:
		a := toggle(c.follows[other.id])
		_, err := d.call(ctx, http.MethodPost, "/douyin/relation/action/", url.Values{"token": {tok}, "to_user_id": {id(other.id)}, "action_type": {a}})
		if err == nil {
			c.follows[other.id] = a == "1"
		}
		return err
	case p < 18:
		_, err := d.call(ctx, http.MethodPost, "/douyin/comment/action/", url.Values{"token": {tok}, "video_id": {id(video)}, "action_type": {"1"}, "comment_text": {fmt.Sprintf("soak comment %d", seq)}})
		return err
	case p < 23:
		_, err := d.call(ctx, http.MethodPost, "/douyin/message/action/", url.Values{"token": {tok}, "to_user_id": {id(other.id)}, "action_type": {"1"}, "content": {fmt.Sprintf("soak message %d", seq)}})
		return err
	case p < 38:
		// The APK polls an open chat every second.
		r, err := d.call(ctx, http.MethodGet, "/douyin/message/chat/", url.Values{"token": {tok}, "to_user_id": {id(other.id)}, "pre_msg_time": {id(c.lastMsg[other.id])}})
		if err != nil {
			return err
		}
		list, _ := r["message_list"].([]any)
		for _, m := range list {
			mm, _ := m.(map[string]any)
			if t, _ := mm["create_time"].(float64); int64(t) > c.lastMsg[other.id] {
				c.lastMsg[other.id] = int64(t)
			}
		}
		return nil
	case p < 63:
		_, err := d.call(ctx, http.MethodGet, "/douyin/feed/", url.Values{"token": {tok}})
		return err
	case p < 75:
		_, err := d.call(ctx, http.MethodGet, "/douyin/user/", url.Values{"user_id": {id(other.id)}, "token": {tok}})
		return err
	case p < 82:
		_, err := d.call(ctx, http.MethodGet, "/douyin/comment/list/", url.Values{"video_id": {id(video)}, "token": {tok}})
		return err
	case p < 88:
		_, err := d.call(ctx, http.MethodGet, "/douyin/favorite/list/", url.Values{"user_id": {id(other.id)}, "token": {tok}})
		return err
	case p < 94:
		_, err := d.call(ctx, http.MethodGet, "/douyin/relation/follower/list/", url.Values{"user_id": {id(other.id)}, "token": {tok}})
		return err
	default:
		_, err := d.call(ctx, http.MethodGet, "/douyin/relation/friend/list/", url.Values{"user_id": {id(c.me.id)}, "token": {tok}})
		return err
	}
}

// sample is one reading of the server's metrics and of the traffic since
// the previous one.
type sample struct {
	at          time.Duration
	requests    int64
	failures    int64
	rps         float64
	p50, p99    time.Duration
	goroutines  float64
	rss         float64
	heap        float64
	openConns   float64
	inUseConns  float64
	waitCount   float64
	redisErrors float64
}

func (d *driver) soak(ctx context.Context, o options) ([]sample, error) {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	lim := rate.NewLimiter(rate.Limit(o.rate), o.clients)
	d.failLog = map[string]int{}
	var wg sync.WaitGroup
	for i := range o.clients {
		c := &client{me: d.users[i%len(d.users)], rng: rand.New(rand.NewPCG(uint64(i), 7)),
			likes: map[int64]bool{}, follows: map[int64]bool{}, lastMsg: map[int64]int64{}}
		wg.Go(func() {
			for seq := 0; ; seq++ {
				if err := lim.Wait(ctx); err != nil {
					return
				}
				begin := time.Now()
				err := d.step(ctx, c, seq)
				took := time.Since(begin)
				if ctx.Err() != nil {
					return // cut short by the end of the run, not a failure
				}
				d.requests.Add(1)
				d.mu.Lock()
				d.latency = append(d.latency, took)
				if err != nil {
					d.failures.Add(1)
					kind := err.Error()
					if len(d.failLog) < 20 || d.failLog[kind] > 0 {
						d.failLog[kind]++
					}
				}
				d.mu.Unlock()
			}
		})
	}

	begin := time.Now()
	var samples []sample
	take := func() error {
		s, err := d.sample(time.Since(begin))
		if err != nil {
			return err
		}
		if n := len(samples); n > 0 {
			if dt := (s.at - samples[n-1].at).Seconds(); dt > 0 {
				s.rps = float64(s.requests-samples[n-1].requests) / dt
			}
		}
		samples = append(samples, s)
		return nil
	}
	if err := take(); err != nil {
		cancel()
		wg.Wait()
		return nil, err
	}
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	var sampleErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			if err := take(); err != nil {
				sampleErr = err
				cancel()
				break loop
			}
		}
	}
	wg.Wait()
	if sampleErr != nil {
		return nil, sampleErr
	}
	// The last reading, after the traffic: what is left once it stops.
	time.Sleep(2 * time.Second)
	if err := take(); err != nil {
		return nil, err
	}
	return samples, nil
}

// sample reads /metrics and the latencies collected since the last call.
func (d *driver) sample(at time.Duration) (sample, error) {
	resp, err := d.http.Get(d.metrics + "/metrics")
	if err != nil {
		return sample{}, fmt.Errorf("/metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return sample{}, fmt.Errorf("/metrics: %w", err)
	}
	if resp.StatusCode != 200 {
		return sample{}, fmt.Errorf("/metrics: HTTP %d", resp.StatusCode)
	}
	m := parseMetrics(string(body))
	d.mu.Lock()
	lat := d.latency
	d.latency = nil
	d.mu.Unlock()
	slices.Sort(lat)
	s := sample{
		at:          at,
		requests:    d.requests.Load(),
		failures:    d.failures.Load(),
		goroutines:  m["go_goroutines"],
		rss:         m["process_resident_memory_bytes"],
		heap:        m["go_memstats_heap_inuse_bytes"],
		openConns:   m[`go_sql_open_connections{db_name="tiktok"}`],
		inUseConns:  m[`go_sql_in_use_connections{db_name="tiktok"}`],
		waitCount:   m[`go_sql_wait_count_total{db_name="tiktok"}`],
		redisErrors: m["tiktok_cache_redis_errors_total"],
	}
	if len(lat) > 0 {
		s.p50 = lat[len(lat)/2]
		s.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return s, nil
}

// parseMetrics reads the Prometheus text format: series name with labels
// as written, to value.
func parseMetrics(text string) map[string]float64 {
	out := map[string]float64{}
	for line := range strings.SplitSeq(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}

// --- verdict and report ---------------------------------------------------

type verdict struct {
	ok    bool
	lines []string
}

// median of the field over samples.
func median(samples []sample, f func(sample) float64) float64 {
	vals := make([]float64, 0, len(samples))
	for _, s := range samples {
		vals = append(vals, f(s))
	}
	slices.Sort(vals)
	if len(vals) == 0 {
		return 0
	}
	return vals[len(vals)/2]
}

// judge compares the start of the steady part (the first three samples
// after warm-up) with its end (the last three under traffic); medians keep
// one busy moment from deciding.
func judge(o options, samples []sample) verdict {
	v := verdict{ok: true}
	var steady []sample
	for _, s := range samples[:len(samples)-1] { // the last is after the traffic
		if s.at >= o.warmup {
			steady = append(steady, s)
		}
	}
	if len(steady) < 2 {
		return verdict{lines: []string{fmt.Sprintf("FAIL: only %d samples after warm-up; run longer or sample more often", len(steady))}}
	}
	k := min(3, len(steady)/2)
	head, tail := steady[:k], steady[len(steady)-k:]
	check := func(name string, f func(sample) float64, share, slack float64, unit func(float64) string) {
		start, end := median(head, f), median(tail, f)
		limit := start*(1+share) + slack
		status := "ok"
		if end > limit {
			status, v.ok = "FAIL", false
		}
		v.lines = append(v.lines, fmt.Sprintf("%-4s %-26s after warm-up %s, at the end %s (limit %s)", status, name, unit(start), unit(end), unit(limit)))
	}
	count := func(x float64) string { return strconv.FormatFloat(x, 'f', 0, 64) }
	mb := func(x float64) string { return fmt.Sprintf("%.1f MiB", x/(1<<20)) }
	check("goroutines", func(s sample) float64 { return s.goroutines }, o.maxGoroutineGrowth, 10, count)
	check("open DB connections", func(s sample) float64 { return s.openConns }, o.maxConnGrowth, 4, count)
	check("resident memory", func(s sample) float64 { return s.rss }, o.maxRSSGrowth, 0, mb)
	last := samples[len(samples)-1]
	status := "ok"
	errRate := 0.0
	if last.requests > 0 {
		errRate = float64(last.failures) / float64(last.requests)
	}
	if errRate > o.maxErrorRate {
		status, v.ok = "FAIL", false
	}
	v.lines = append(v.lines, fmt.Sprintf("%-4s %-26s %d of %d requests (%.3f%%, limit %.3f%%)", status, "failed requests", last.failures, last.requests, 100*errRate, 100*o.maxErrorRate))
	if last.requests == 0 {
		v.ok = false
		v.lines = append(v.lines, "FAIL no request was made")
	}
	if v.ok {
		v.lines = append(v.lines, "PASS")
	}
	return v
}

type rendered struct{ text, markdown string }

func render(samples []sample, warmup time.Duration) rendered {
	head := []string{"time", "requests", "req/s", "failed", "p50", "p99", "goroutines", "RSS MiB", "heap MiB", "DB open", "DB in use", "DB waits", "redis errors"}
	var rows [][]string
	for i, s := range samples {
		at := s.at.Round(time.Second).String()
		switch {
		case i == len(samples)-1:
			at += " (idle)"
		case s.at < warmup:
			at += " (warm-up)"
		}
		rows = append(rows, []string{
			at, strconv.FormatInt(s.requests, 10), fmt.Sprintf("%.0f", s.rps), strconv.FormatInt(s.failures, 10),
			s.p50.Round(100 * time.Microsecond).String(), s.p99.Round(100 * time.Microsecond).String(),
			fmt.Sprintf("%.0f", s.goroutines), fmt.Sprintf("%.1f", s.rss/(1<<20)), fmt.Sprintf("%.1f", s.heap/(1<<20)),
			fmt.Sprintf("%.0f", s.openConns), fmt.Sprintf("%.0f", s.inUseConns), fmt.Sprintf("%.0f", s.waitCount), fmt.Sprintf("%.0f", s.redisErrors),
		})
	}
	var text bytes.Buffer
	tw := tabwriter.NewWriter(&text, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(&text, "table:", err)
	}
	var md strings.Builder
	md.WriteString("| " + strings.Join(head, " | ") + " |\n|")
	for range head {
		md.WriteString("---|")
	}
	md.WriteString("\n")
	for _, r := range rows {
		md.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return rendered{text: text.String(), markdown: md.String()}
}
