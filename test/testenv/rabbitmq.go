package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// rabbitBin is where Debian's rabbitmq-server keeps the scripts that run
// a node as the calling user (/usr/sbin's wrappers switch to user
// rabbitmq and its data directory).
const rabbitBin = "/usr/lib/rabbitmq/bin"

// RabbitMQNode starts a RabbitMQ node of t's own on loopback, with its
// own name, ports and data directory under t.TempDir and no plugins, and
// stops it when t ends. It returns the node's AMQP URL (guest/guest).
// Without rabbitmq-server it skips (fails under CI=true).
func RabbitMQNode(t testing.TB) string {
	t.Helper()
	server := filepath.Join(rabbitBin, "rabbitmq-server")
	if _, err := os.Stat(server); err != nil {
		Unavailable(t, "rabbitmq-server is not installed (apt-get install rabbitmq-server): %v", err)
		return ""
	}
	dir := t.TempDir()
	port, dist := FreePort(t), FreePort(t)
	node := "tiktok-test-" + RandomSuffix() + "@localhost"
	conf := filepath.Join(dir, "rabbitmq.conf")
	plugins := filepath.Join(dir, "enabled_plugins")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "listeners.tcp.local = 127.0.0.1:%d\nloopback_users = none\n", port), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plugins, []byte("[].\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"RABBITMQ_CONF_ENV_FILE=/dev/null", // the system node's name and ports
		"RABBITMQ_NODENAME="+node,
		"RABBITMQ_NODE_PORT="+strconv.Itoa(port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(dist),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_CONFIG_FILE="+conf,
		"RABBITMQ_ENABLED_PLUGINS_FILE="+plugins,
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "pid"),
		"ERL_EPMD_ADDRESS=127.0.0.1",
	)
	cmd := exec.Command(server)
	cmd.Env, cmd.Dir = env, dir
	// Its own process group: the script starts the Erlang VM as a child,
	// and the whole group goes at the end.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start rabbitmq-server: %v", err)
	}
	t.Cleanup(func() {
		stop := exec.Command(filepath.Join(rabbitBin, "rabbitmqctl"), "-n", node, "stop")
		stop.Env = env
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if stop.Run() == nil {
			select {
			case <-done:
				return
			case <-time.After(30 * time.Second):
			}
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	WaitTCP(t, addr, 90*time.Second, &out)
	return "amqp://guest:guest@" + addr + "/"
}
