// Package container builds the release image (docker/image.sh) with the
// local container engine and runs it against the local MariaDB, Redis and
// RabbitMQ. It skips, saying why, where no engine can start.
package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tiktok-lite/server/pkg/media"
	"github.com/tiktok-lite/server/pkg/mq"
	"github.com/tiktok-lite/server/test/testenv"
)

// engine returns the environment under which `docker` reaches an engine:
// the one already configured, or a dockerd of the test's own (Debian's
// docker.io) with its data in a temporary directory, stopped at cleanup.
func engine(t *testing.T) []string {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker client (apt-get install docker.io)")
	}
	if exec.Command("docker", "info").Run() == nil {
		return os.Environ()
	}
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		t.Skip("no container engine answers and dockerd is not installed (apt-get install docker.io)")
	}
	if os.Geteuid() != 0 {
		t.Skip("no container engine answers, and dockerd needs root to start one")
	}
	dir, err := os.MkdirTemp("", "engine") // short: a socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	sock := "unix://" + filepath.Join(dir, "docker.sock")
	var logBuf bytes.Buffer
	cmd := exec.Command(dockerd, "--host", sock, "--data-root", filepath.Join(dir, "root"),
		"--exec-root", filepath.Join(dir, "exec"), "--pidfile", filepath.Join(dir, "docker.pid"),
		"--iptables=false", "--bridge=none")
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if err := cmd.Start(); err != nil {
		t.Skipf("dockerd does not start: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		unmountUnder(dir) // dockerd leaves its network namespace mounted
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("engine data left in %s: %v", dir, err)
		}
	})
	env := append(os.Environ(), "DOCKER_HOST="+sock)
	for deadline := time.Now().Add(90 * time.Second); ; {
		info := exec.Command("docker", "info")
		info.Env = env
		if info.Run() == nil {
			return env
		}
		select {
		case err := <-exited:
			exited <- err
			t.Skipf("dockerd cannot run on this machine (%v): %s", err, tail(logBuf.String()))
		default:
		}
		if time.Now().After(deadline) {
			t.Skipf("dockerd did not answer within 90 s: %s", tail(logBuf.String()))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		_ = syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}

func tail(s string) string {
	if len(s) > 600 {
		s = "..." + s[len(s)-600:]
	}
	return strings.TrimSpace(s)
}

func docker(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestReleaseImage builds the scratch image from a static binary, runs it
// on the full stack, waits for the engine to call it healthy, then uses it:
// register, publish (spooled in the image's /data), feed, play.
func TestReleaseImage(t *testing.T) {
	dsn, redisAddr, amqpURL := testenv.MySQLDatabase(t), testenv.RedisAddr(t), testenv.AMQPURL(t)
	env := engine(t)
	root := repoRoot(t)

	bin := filepath.Join(t.TempDir(), "tiktok-server")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/tiktok-server")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	suffix := testenv.RandomSuffix()
	tag := "tiktok-lite/server:imagetest-" + suffix
	script := exec.Command(filepath.Join(root, "docker", "image.sh"), tag)
	script.Env = append(env, "BINARY="+bin, "VERSION=imagetest")
	if out, err := script.CombinedOutput(); err != nil {
		t.Fatalf("docker/image.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { docker(t, env, "rmi", "-f", tag) })

	queue := "image." + suffix
	t.Cleanup(func() { testenv.DeleteBrokerTopology(t, mq.Config{URL: amqpURL, Name: queue}) })
	port := freePort(t)
	name := "tiktok-imagetest-" + suffix
	// The host's network: the services listen on its loopback.
	docker(t, env, "run", "-d", "--name", name, "--network", "host",
		"-e", fmt.Sprintf("TIKTOK_SERVER_ADDR=127.0.0.1:%d", port),
		"-e", "TIKTOK_SERVER_METRICS_ADDR=127.0.0.1:0",
		"-e", "TIKTOK_DATABASE_DRIVER=mysql", "-e", "TIKTOK_DATABASE_DSN="+dsn,
		"-e", "TIKTOK_JWT_SECRET="+strings.Repeat("image-secret-", 3),
		"-e", "TIKTOK_REDIS_ADDR="+redisAddr, "-e", "TIKTOK_REDIS_PREFIX=image:"+suffix+":",
		"-e", "TIKTOK_RABBITMQ_URL="+amqpURL, "-e", "TIKTOK_RABBITMQ_QUEUE="+queue,
		"-e", "TIKTOK_SEED_DEMO=false", "-e", "TIKTOK_RATELIMIT_ENABLED=false",
		tag)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("container log:\n%s", docker(t, env, "logs", name))
		}
		docker(t, env, "rm", "-f", name)
	})

	for deadline := time.Now().Add(2 * time.Minute); ; {
		state := docker(t, env, "inspect", "--format", "{{.State.Status}} {{.State.Health.Status}}", name)
		if state == "running healthy" {
			break
		}
		if !strings.HasPrefix(state, "running") || strings.HasSuffix(state, "unhealthy") || time.Now().After(deadline) {
			t.Fatalf("container is %q, want running healthy", state)
		}
		time.Sleep(500 * time.Millisecond)
	}

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	reg := call(t, http.MethodPost, base+"/douyin/user/register/?"+url.Values{"username": {"imagetest"}, "password": {"secret1"}}.Encode(), "", nil)
	token, _ := reg["token"].(string)
	if reg["status_code"] != 0.0 || token == "" {
		t.Fatalf("register = %v", reg)
	}
	var body bytes.Buffer
	form := multipart.NewWriter(&body)
	_ = form.WriteField("token", token)
	_ = form.WriteField("title", "from the image")
	part, _ := form.CreateFormFile("data", "clip.mp4")
	_, _ = part.Write(media.SampleVideo())
	_ = form.Close()
	if pub := call(t, http.MethodPost, base+"/douyin/publish/action/", form.FormDataContentType(), &body); pub["status_code"] != 0.0 {
		t.Fatalf("publish = %v", pub)
	}
	feed := call(t, http.MethodGet, base+"/douyin/feed/", "", nil)
	videos, _ := feed["video_list"].([]any)
	if len(videos) != 1 {
		t.Fatalf("feed = %v, want the one video", feed)
	}
	play, _ := videos[0].(map[string]any)["play_url"].(string)
	resp, err := http.Get(play)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, media.SampleVideo()) {
		t.Fatalf("GET %s: %s, %d bytes, want the uploaded %d", play, resp.Status, len(got), len(media.SampleVideo()))
	}
}

func call(t *testing.T, method, u, contentType string, body io.Reader) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	return out
}
