// Package e2e drives the real tiktok-server binary over real HTTP.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-lite/server/pkg/mq"
	"github.com/tiktok-lite/server/test/spec"
	"github.com/tiktok-lite/server/test/testenv"
)

// binary is built once for the whole package by TestMain.
var binary string

// Every request to a route and every answer is checked against
// api/openapi.yaml on its way; the package fails if one did not match.
func TestMain(m *testing.M) {
	check, err := spec.Install()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testenv.RunWithServer(m, &binary, check.Verdict, func() error {
		fmt.Printf("api/openapi.yaml: %d answers checked\n", check.Checked())
		return nil
	})
}

// server is one running binary and the test that drives it.
type server struct {
	*testenv.Server
	t       *testing.T
	base    string
	dataDir string
	logs    *testenv.Logs
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

// start runs the binary in dataDir (a fresh one when empty) and waits for
// /healthz.
func start(t *testing.T, dataDir string, env ...string) *server {
	t.Helper()
	p := testenv.StartServer(t, binary, dataDir, env...)
	return &server{Server: p, t: t, base: p.Base, dataDir: p.DataDir, logs: p.Logs}
}

// stop sends SIGTERM and expects a clean exit within the drain time.
func (s *server) stop() {
	if err := s.Stop(30 * time.Second); err != nil {
		s.t.Errorf("%v\n%s", err, s.logs)
	}
}

// reply is a decoded envelope with the rest of the body kept raw.
type reply = testenv.Reply

func decode(t *testing.T, resp *http.Response) reply {
	t.Helper()
	r, err := envelope(resp)
	if err != nil {
		t.Fatalf("%s: %v", resp.Request.URL.Path, err)
	}
	return r
}

// envelope reads a body that must be the JSON envelope with HTTP 200.
func envelope(resp *http.Response) (reply, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
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

// api is a client of one instance that returns its failures instead of
// ending the test, so that writers can run in goroutines.
type api struct{ base string }

// client bounds every request, so that a hung server fails a test
// rather than hold it until the package's time-out.
var client = &http.Client{Timeout: 30 * time.Second}

func (a api) get(path string, params url.Values) (reply, error) {
	resp, err := client.Get(a.base + path + "?" + params.Encode())
	if err != nil {
		return nil, err
	}
	return envelope(resp)
}

func (a api) post(path string, params url.Values) (reply, error) {
	resp, err := client.PostForm(a.base+path, params)
	if err != nil {
		return nil, err
	}
	return envelope(resp)
}

// get sends params in the query string.
func (s *server) get(t *testing.T, path string, params url.Values) reply {
	t.Helper()
	r, err := api{s.base}.get(path, params)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

// post sends params as an urlencoded form.
func (s *server) post(t *testing.T, path string, params url.Values) reply {
	t.Helper()
	r, err := api{s.base}.post(path, params)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return r
}

// upload posts a multipart form with a file in data.
func (s *server) upload(t *testing.T, fields map[string]string, fileName string, file []byte) reply {
	t.Helper()
	r, err := upload(s.base, fields, fileName, file)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return r
}

// upload posts a publish form to the server at base.
func upload(base string, fields map[string]string, fileName string, file []byte) (reply, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			return nil, err
		}
	}
	if file != nil {
		fw, err := w.CreateFormFile("data", fileName)
		if err != nil {
			return nil, err
		}
		if _, err := fw.Write(file); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/douyin/publish/action/", &body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	return envelope(resp)
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
