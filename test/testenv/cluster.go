package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisCluster starts a Redis Cluster of masters, each with replicas of
// its own, on loopback for t, each node in its own directory under
// t.TempDir and on its own free port, and stops it when t ends. It
// returns the nodes' addresses. Without redis-server it skips (fails
// under CI=true).
func RedisCluster(t testing.TB, masters, replicas int) []string {
	t.Helper()
	server, cli := command(t, "redis-server", "redis-server"), command(t, "redis-cli", "redis-tools")
	var addrs []string
	for i := range masters * (1 + replicas) {
		port := clusterPort(t)
		// Each node keeps its own nodes.conf, so each has its own directory.
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("node%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(server, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
			"--save", "", "--appendonly", "no", "--dir", dir)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		WaitTCP(t, addr, 10*time.Second, &out)
		addrs = append(addrs, addr)
	}
	create := exec.Command(cli, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")...)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	WaitCluster(t, addrs, "", 30*time.Second)
	return addrs
}

// clusterPort is a free port whose cluster bus port (port + 10000) is
// free too.
func clusterPort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		if err != nil {
			continue
		}
		bus.Close()
		return port
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

// WaitTCP waits until something listens on addr, failing t past limit
// with log, the output of what should be listening.
func WaitTCP(t testing.TB, addr string, limit time.Duration, log *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen within %s:\n%s", addr, limit, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ClusterMaster returns the address and process id of the master that
// serves key's slot in the Cluster of nodes (a pub/sub channel's too:
// go-redis subscribes on that master).
func ClusterMaster(t testing.TB, nodes []string, key string) (string, int) {
	t.Helper()
	slot, err := strconv.Atoi(strings.TrimSpace(redisCLI(t, nodes[0], "CLUSTER", "KEYSLOT", key)))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(redisCLI(t, nodes[0], "CLUSTER", "NODES"), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.Contains(f[2], "master") || strings.Contains(f[2], "fail") {
			continue
		}
		addr := strings.SplitN(f[1], "@", 2)[0]
		for _, r := range f[8:] {
			lo, hi, _ := strings.Cut(r, "-")
			a, _ := strconv.Atoi(lo)
			b := a
			if hi != "" {
				b, _ = strconv.Atoi(hi)
			}
			if a <= slot && slot <= b {
				m := regexp.MustCompile(`process_id:(\d+)`).FindStringSubmatch(redisCLI(t, addr, "INFO", "server"))
				if m == nil {
					t.Fatalf("no process_id in INFO of %s", addr)
				}
				pid, _ := strconv.Atoi(m[1])
				return addr, pid
			}
		}
	}
	t.Fatalf("no master serves slot %d", slot)
	return "", 0
}

// WaitCluster waits until every node of nodes but dead says the Cluster
// is ok and every replica's link to its master is up: after a master's
// loss, until a replica has taken its place.
func WaitCluster(t testing.TB, nodes []string, dead string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok := true
		for _, addr := range nodes {
			if addr == dead {
				continue
			}
			info := redisCLI(t, addr, "CLUSTER", "INFO")
			repl := redisCLI(t, addr, "INFO", "replication")
			ok = ok && strings.Contains(info, "cluster_state:ok") &&
				(!strings.Contains(repl, "role:slave") || strings.Contains(repl, "master_link_status:up"))
			if dead != "" { // and this node no longer names the dead one for any slot
				_, port, _ := net.SplitHostPort(dead)
				ok = ok && !slices.Contains(strings.Fields(redisCLI(t, addr, "CLUSTER", "SLOTS")), port)
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Redis Cluster is not ok %s on", limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func redisCLI(t testing.TB, addr string, args ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", append([]string{"-h", host, "-p", port}, args...)...).Output()
	if err != nil {
		t.Fatalf("redis-cli %s %v: %v", addr, args, err)
	}
	return string(out)
}
