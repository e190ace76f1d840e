// Package e2e drives the real tiktok-server binary over real HTTP.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tiktok-lite/server/pkg/mq"
	"github.com/tiktok-lite/server/test/testenv"
)

// binary is built once for the whole package by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tiktok-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tiktok-server")
	build := exec.Command("go", "build", "-race", "-o", binary, "../../cmd/tiktok-server")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build server:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running binary.
type server struct {
	t       *testing.T
	cmd     *exec.Cmd
	base    string
	dataDir string
	exited  chan error
	logs    *logBuffer
}

// stack names a configuration of the binary: the embedded default, or the
// full stack against a fresh MySQL database (and, where given, Redis and
// RabbitMQ).
type stack struct {
	name string
	env  func(t *testing.T) []string
}

func embedded() stack {
	return stack{"embedded", func(*testing.T) []string { return nil }}
}

func mysqlStack() stack {
	return stack{"mysql", func(t *testing.T) []string {
		return []string{
			"TIKTOK_DATABASE_DRIVER=mysql",
			"TIKTOK_DATABASE_DSN=" + testenv.MySQLDatabase(t),
			"TIKTOK_JWT_SECRET=" + strings.Repeat("e2e-secret-", 4),
		}
	}}
}

// fullStack is MySQL, Redis under a fresh key prefix and RabbitMQ with its
// own queue names.
func fullStack() stack {
	return stack{"fullstack", func(t *testing.T) []string {
		env := mysqlStack().env(t)
		suffix := testenv.RandomSuffix()
		amqpURL := testenv.AMQPURL(t)
		// Cleanup runs after the server's own (it was registered first).
		t.Cleanup(func() { testenv.DeleteBrokerTopology(t, mq.Config{URL: amqpURL, Name: "e2e.cache." + suffix}) })
		return append(env,
			"TIKTOK_REDIS_ADDR="+testenv.RedisAddr(t),
			"TIKTOK_REDIS_PREFIX=e2e:"+suffix+":",
			"TIKTOK_RABBITMQ_URL="+amqpURL,
			"TIKTOK_RABBITMQ_QUEUE=e2e.cache."+suffix,
		)
	}}
}

func stacks() []stack { return []stack{embedded(), mysqlStack(), fullStack()} }

// start runs the binary with a fresh data directory and waits for /healthz.
func start(t *testing.T, dataDir string, env ...string) *server {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	cmd := exec.Command(binary)
	cmd.Dir = dataDir // no .config here: the built-in defaults apply
	cmd.Env = append(os.Environ(),
		"TIKTOK_SERVER_ADDR=127.0.0.1:0",
		"TIKTOK_DATA_DIR="+dataDir,
		"TIKTOK_LOG_FORMAT=json",
		"TIKTOK_LOG_FILE=",
		"TIKTOK_SEED_DEMO=false",
		"TIKTOK_RATELIMIT_ENABLED=false",
	)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, dataDir: dataDir, exited: make(chan error, 1), logs: &logBuffer{}}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			s.logs.Write(append(line, '\n'))
			var entry struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &entry) == nil && entry.Msg == "listening" {
				addr <- entry.Addr
			}
		}
		s.exited <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		s.base = "http://" + a
	case err := <-s.exited:
		t.Fatalf("server exited during start-up: %v\n%s", err, s.logs)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("server did not start within 60s\n%s", s.logs)
	}
	t.Cleanup(s.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and expects a clean exit within the drain time.
func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return
	}
	select {
	case err := <-s.exited:
		if err != nil {
			s.t.Errorf("server exited with %v after SIGTERM\n%s", err, s.logs)
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		s.t.Errorf("server did not stop within 30s of SIGTERM")
	}
}

// logBuffer collects the server's output; the reader goroutine writes while
// a test may read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// reply is a decoded envelope with the rest of the body kept raw.
type reply = testenv.Reply

func decode(t *testing.T, resp *http.Response) reply {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d for %s: %s", resp.StatusCode, resp.Request.URL.Path, body)
	}
	var r reply
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	if _, ok := r["status_code"]; !ok {
		t.Fatalf("no status_code in %s", body)
	}
	return r
}

// get sends params in the query string.
func (s *server) get(t *testing.T, path string, params url.Values) reply {
	t.Helper()
	resp, err := http.Get(s.base + path + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)
}

// post sends params as an urlencoded form.
func (s *server) post(t *testing.T, path string, params url.Values) reply {
	t.Helper()
	resp, err := http.PostForm(s.base+path, params)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)
}

// upload posts a multipart form with a file in data.
func (s *server) upload(t *testing.T, fields map[string]string, fileName string, file []byte) reply {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if file != nil {
		fw, err := w.CreateFormFile("data", fileName)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(file); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.base+"/douyin/publish/action/", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)
}

func (s *server) register(t *testing.T, name, password string) (int64, string) {
	t.Helper()
	r := s.post(t, "/douyin/user/register/", url.Values{"username": {name}, "password": {password}})
	if r.Code() != 0 {
		t.Fatalf("register %q: %d %s", name, r.Code(), r.Msg())
	}
	return r.Int("user_id"), r.Str("token")
}

func wantCode(t *testing.T, what string, r reply, code int64) {
	t.Helper()
	if r.Code() != code {
		t.Errorf("%s: status_code %d (%q), want %d", what, r.Code(), r.Msg(), code)
	}
	if code != 0 && r.Msg() == "" {
		t.Errorf("%s: error without status_msg", what)
	}
}
