package testenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RunWithServer is a TestMain for black-box packages: it builds the real
// server with the race detector once, stores its path in *binary, runs
// the tests and removes the build. Each verdict runs after the tests; one
// that returns an error fails the package.
func RunWithServer(m *testing.M, binary *string, verdicts ...func() error) {
	runWithBuild(m, binary, []string{"-race"}, verdicts)
}

// RunWithReleaseServer is RunWithServer with the server built as it is
// shipped, without the race detector, for tests that measure its speed.
func RunWithReleaseServer(m *testing.M, binary *string) {
	runWithBuild(m, binary, nil, nil)
}

func runWithBuild(m *testing.M, binary *string, flags []string, verdicts []func() error) {
	dir, err := os.MkdirTemp("", "tiktok-server-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*binary = filepath.Join(dir, "tiktok-server")
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build := exec.Command("go", append(append([]string{"build"}, flags...), "-o", *binary, "./cmd/tiktok-server")...)
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build server:", err)
		os.Exit(1)
	}
	code := m.Run()
	for _, verdict := range verdicts {
		if err := verdict(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// moduleRoot is the directory holding go.mod, above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Logs collects a server's output; its reader goroutine writes while a
// test may read.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) add(line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(line)
	l.buf.WriteByte('\n')
}

// String is everything the server printed so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Entries decodes the JSON log lines.
func (l *Logs) Entries() []map[string]any {
	var out []map[string]any
	for _, line := range bytes.Split([]byte(l.String()), []byte("\n")) {
		var e map[string]any
		if json.Unmarshal(line, &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// Server is one running server process.
type Server struct {
	Base    string // http://127.0.0.1:port
	Metrics string // http://127.0.0.1:port of the metrics listener
	DataDir string
	Logs    *Logs

	cmd     *exec.Cmd
	exited  chan error
	done    bool
	exitErr error
}

// StartServer runs binary on a free port with the built-in defaults, JSON
// logs, no demo seed, no rate limits and mode test's cheap bcrypt, then env on top, in dataDir (a new
// temporary one when empty), and waits for /healthz. The test's cleanup
// stops it and reports an unclean exit.
func StartServer(t testing.TB, binary, dataDir string, env ...string) *Server {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	cmd := exec.Command(binary)
	cmd.Dir = dataDir // no .config here: the built-in defaults apply
	cmd.Env = append(os.Environ(),
		"TIKTOK_SERVER_ADDR=127.0.0.1:0",
		"TIKTOK_SERVER_METRICS_ADDR=127.0.0.1:0",
		"TIKTOK_DATA_DIR="+dataDir,
		"TIKTOK_LOG_FORMAT=json",
		"TIKTOK_LOG_FILE=",
		"TIKTOK_SEED_DEMO=false",
		"TIKTOK_RATELIMIT_ENABLED=false",
		// bcrypt's lowest cost, so registrations keep within their bounds
		// on a loaded machine; the Postman and browser runs use the default.
		"TIKTOK_MODE=test",
		"TIKTOK_AUTH_BCRYPT_COST=4",
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
	s := &Server{DataDir: dataDir, Logs: &Logs{}, cmd: cmd, exited: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			s.Logs.add(line)
			var entry struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &entry) != nil {
				continue
			}
			switch entry.Msg {
			case "serving metrics": // logged before "listening"
				s.Metrics = "http://" + entry.Addr
			case "listening":
				addr <- entry.Addr
			}
		}
		s.exited <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		s.Base = "http://" + a
	case err := <-s.exited:
		t.Fatalf("server exited during start-up: %v\n%s", err, s.Logs)
	case <-time.After(90 * time.Second):
		if err := cmd.Process.Kill(); err != nil {
			t.Logf("kill: %v", err)
		}
		t.Fatalf("server did not start within 90s\n%s", s.Logs)
	}
	t.Cleanup(func() {
		if err := s.Stop(30 * time.Second); err != nil {
			t.Errorf("%v\n%s", err, s.Logs)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.Base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Signal sends SIGTERM without waiting.
func (s *Server) Signal() error { return s.cmd.Process.Signal(syscall.SIGTERM) }

// Stop sends SIGTERM and waits for a clean exit within limit; it returns
// why the exit was not clean. Later calls return the first result.
func (s *Server) Stop(limit time.Duration) error {
	if !s.done {
		if err := s.Signal(); err != nil && s.cmd.ProcessState == nil {
			s.done, s.exitErr = true, fmt.Errorf("SIGTERM: %w", err)
		}
	}
	return s.Wait(limit)
}

// Wait waits for the process to exit after Signal, killing it past limit.
func (s *Server) Wait(limit time.Duration) error {
	if s.done {
		return s.exitErr
	}
	s.done = true
	select {
	case err := <-s.exited:
		if err != nil {
			s.exitErr = fmt.Errorf("server exited with %v after SIGTERM", err)
		}
	case <-time.After(limit):
		if err := s.cmd.Process.Kill(); err != nil {
			s.exitErr = fmt.Errorf("kill after %s: %w", limit, err)
			return s.exitErr
		}
		<-s.exited
		s.exitErr = fmt.Errorf("server did not stop within %s of SIGTERM", limit)
	}
	return s.exitErr
}

// Kill ends the server at once (SIGKILL), as a crash would, and waits for
// it; the test's cleanup then has nothing to stop.
func (s *Server) Kill() {
	if s.done {
		return
	}
	s.done = true
	_ = s.cmd.Process.Kill()
	<-s.exited
}
