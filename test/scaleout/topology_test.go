//go:build scaleout

package scaleout

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tiktok-lite/server/test/testenv"
)

// topology is the documented scale-out on loopback: instances of the
// binary behind nginx, a MariaDB primary with a GTID replica, a Redis
// Cluster of three masters with a replica each, and a RabbitMQ node of its
// own with quorum queues; nothing shared with the services other tests
// use.
type topology struct {
	primary, replica *testenv.MariaDB
	database         string
	redis            []string
	env              []string // every instance's settings but its address
	instances        []*instance
	nginx            *nginx
}

// instance is one server on a fixed port, so that it comes back on the
// address nginx knows after a crash.
type instance struct {
	addr, dataDir string
	*testenv.Server
}

func bringUp(t *testing.T, instances int) *topology {
	t.Helper()
	began := time.Now()
	top := &topology{}
	top.primary, top.replica = testenv.MariaDBPair(t)
	top.database = top.primary.Database(t)
	top.replica.WaitFor(t, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '"+top.database+"'", 20*time.Second)
	top.redis = testenv.RedisCluster(t, 3, 1)
	amqp := testenv.RabbitMQNode(t)
	top.nginx = newNginx(t)
	media := t.TempDir() // the disk every instance shares
	top.env = []string{
		"TIKTOK_DATABASE_DRIVER=mysql",
		"TIKTOK_DATABASE_DSN=" + top.primary.DSN(top.database),
		"TIKTOK_DATABASE_REPLICAS=" + top.replica.DSN(top.database),
		"TIKTOK_JWT_SECRET=" + strings.Repeat("scale-out-secret-", 3),
		"TIKTOK_REDIS_ADDR=" + top.redis[0],
		"TIKTOK_RABBITMQ_URL=" + amqp,
		"TIKTOK_RABBITMQ_QUORUM=true",
		"TIKTOK_STORAGE_LOCAL_DIR=" + media,
		"TIKTOK_SERVER_PUBLIC_URL=" + top.nginx.base,
	}
	for range instances {
		in := &instance{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t))), dataDir: t.TempDir()}
		top.instances = append(top.instances, in)
		top.start(t, in)
	}
	top.nginx.serve(t, top.instances)
	t.Logf("topology up in %s: nginx %s, %d instances, MariaDB %s → %s, Redis Cluster %v, RabbitMQ %s",
		time.Since(began).Round(time.Millisecond), top.nginx.base, len(top.instances), top.primary.Addr, top.replica.Addr, top.redis, amqp)
	return top
}

// start runs in on its address (again, after a crash).
func (top *topology) start(t *testing.T, in *instance) {
	t.Helper()
	in.Server = testenv.StartServer(t, binary, in.dataDir, append(top.env, "TIKTOK_SERVER_ADDR="+in.addr)...)
}

// nginx runs the shipped VM site (.config/deploy/nginx-tiktok.conf) with
// the instances as its upstream servers, on a port and in a directory of
// its own.
type nginx struct {
	base, dir, port string
	cmd             *exec.Cmd
}

func newNginx(t *testing.T) *nginx {
	t.Helper()
	if _, err := exec.LookPath("nginx"); err != nil {
		testenv.Unavailable(t, "nginx is not installed (apt-get install nginx): %v", err)
	}
	port := strconv.Itoa(testenv.FreePort(t))
	return &nginx{base: "http://127.0.0.1:" + port, dir: t.TempDir(), port: port}
}

// serve writes the site for instances and starts nginx, or has the
// running one reload it.
func (n *nginx) serve(t *testing.T, instances []*instance) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	site, err := os.ReadFile(filepath.Join(root, ".config/deploy/nginx-tiktok.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var upstream strings.Builder
	for _, in := range instances {
		fmt.Fprintf(&upstream, "    server %s;\n", in.addr)
	}
	s := string(site)
	for _, r := range []struct{ old, new string }{
		{"    server 127.0.0.1:8080;\n", upstream.String()},
		{"listen 80 default_server;", "listen 127.0.0.1:" + n.port + " default_server;"},
		{"listen [::]:80 default_server;", ""},
		{"/var/log/nginx/", n.dir + "/"},
	} {
		if !strings.Contains(s, r.old) {
			t.Fatalf("the shipped nginx site no longer holds %q", r.old)
		}
		s = strings.ReplaceAll(s, r.old, r.new)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(n.dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("site.conf", s)
	d := n.dir
	write("nginx.conf", `worker_processes 2;
pid `+d+`/nginx.pid;
error_log `+d+`/error.log warn;
events { worker_connections 4096; }
http {
    include /etc/nginx/mime.types;
    client_body_temp_path `+d+`/body;
    proxy_temp_path `+d+`/proxy;
    fastcgi_temp_path `+d+`/fastcgi;
    uwsgi_temp_path `+d+`/uwsgi;
    scgi_temp_path `+d+`/scgi;
    include `+d+`/site.conf;
}
`)
	args := []string{"-p", d, "-c", filepath.Join(d, "nginx.conf")}
	if out, err := exec.Command("nginx", append(args, "-t")...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	if n.cmd != nil {
		if out, err := exec.Command("nginx", append(args, "-s", "reload")...).CombinedOutput(); err != nil {
			t.Fatalf("nginx -s reload: %v\n%s", err, out)
		}
		time.Sleep(time.Second) // the old workers finish, the new ones take over
		return
	}
	n.cmd = exec.Command("nginx", append(args, "-g", "daemon off;")...)
	n.cmd.Stdout, n.cmd.Stderr = os.Stderr, os.Stderr // nginx logs to its error.log
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testenv.Stop(n.cmd, syscall.SIGQUIT, 10*time.Second) }) // SIGQUIT: finish what is in flight
	testenv.WaitTCP(t, "127.0.0.1:"+n.port, 10*time.Second, &bytes.Buffer{})
}
