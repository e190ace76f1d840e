package testenv

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MariaDB is one mariadbd of a test's own, with its data directory under
// t.TempDir and its own port, stopped when the test ends.
type MariaDB struct {
	Addr  string
	dir   string
	cmd   *exec.Cmd
	out   *bytes.Buffer
	admin *sql.DB // root over the socket
}

// MariaDBPair starts a MariaDB primary and a GTID replica of it on
// loopback, with binary logs on the primary, and returns them once the
// replica follows. A database made on the primary (see Database) reaches
// the replica by replication. Without mariadbd it skips (fails under
// CI=true).
func MariaDBPair(t testing.TB) (primary, replica *MariaDB) {
	t.Helper()
	primary = startMariaDB(t, "primary", 1)
	replica = startMariaDB(t, "replica", 2)
	host, port, _ := net.SplitHostPort(primary.Addr)
	replica.Exec(t, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%s, MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1", host, port))
	replica.Exec(t, "START SLAVE")
	// A first database proves the replica applies what the primary logs.
	probe := "probe_" + RandomSuffix()
	primary.Exec(t, "CREATE DATABASE "+probe)
	replica.WaitFor(t, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '"+probe+"'", 20*time.Second)
	primary.Exec(t, "DROP DATABASE "+probe)
	return primary, replica
}

func startMariaDB(t testing.TB, name string, serverID int) *MariaDB {
	t.Helper()
	server := "/usr/sbin/mariadbd" // not on a user's PATH
	if _, err := os.Stat(server); err != nil {
		server = command(t, "mariadbd", "mariadb-server")
	}
	install := command(t, "mariadb-install-db", "mariadb-server")
	dir := filepath.Join(t.TempDir(), name)
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(install, "--no-defaults", "--user=root", "--datadir="+data,
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db (%s): %v\n%s", name, err, out)
	}
	port := FreePort(t)
	args := []string{"--no-defaults", "--user=root", "--datadir=" + data,
		"--bind-address=127.0.0.1", "--port=" + strconv.Itoa(port),
		"--socket=" + filepath.Join(dir, "sock"), "--pid-file=" + filepath.Join(dir, "pid"),
		"--server-id=" + strconv.Itoa(serverID), "--log-bin=" + filepath.Join(dir, "binlog"), "--binlog-format=ROW",
		"--log-slave-updates", "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M",
		"--skip-name-resolve", "--max-connections=400", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin"}
	m := &MariaDB{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, out: &bytes.Buffer{}}
	m.cmd = exec.Command(server, args...)
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start mariadbd (%s): %v", name, err)
	}
	t.Cleanup(m.stop)
	WaitTCP(t, m.Addr, 60*time.Second, m.out)
	sock := mysql.NewConfig()
	sock.User, sock.Net, sock.Addr = "root", "unix", filepath.Join(dir, "sock")
	admin, err := sql.Open("mysql", sock.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	m.admin = admin
	m.admin.SetMaxOpenConns(2)
	t.Cleanup(func() { m.admin.Close() })
	// Root from 127.0.0.1 (skip-name-resolve: "localhost" matches no TCP
	// client) with every right, replication included.
	m.Exec(t, "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''")
	m.Exec(t, "GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
	return m
}

// DSN is the DSN of database name on m (name may be empty).
func (m *MariaDB) DSN(name string) string {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.DBName = "root", "tcp", m.Addr, name
	c.ParseTime, c.Loc = true, time.UTC
	c.Params = map[string]string{"charset": "utf8mb4"}
	return c.FormatDSN()
}

// Database creates a fresh database on m (the primary) and returns its
// name.
func (m *MariaDB) Database(t testing.TB) string {
	t.Helper()
	name := "tiktok_" + RandomSuffix()
	m.Exec(t, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
	return name
}

// Exec runs one statement on m as root over its socket, which works
// before m has any user but root.
func (m *MariaDB) Exec(t testing.TB, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := m.admin.ExecContext(ctx, stmt); err != nil {
		t.Fatalf("%s on %s: %v\n%s", stmt, m.Addr, err, m.out)
	}
}

// WaitFor waits until query, which returns one number, returns a
// non-zero one.
func (m *MariaDB) WaitFor(t testing.TB, query string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		n, err := m.Int(query)
		if err == nil && n != 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s on %s: still %d (%v) after %s\n%s", query, m.Addr, n, err, limit, m.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Int runs query, which returns one number.
func (m *MariaDB) Int(query string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n sql.NullInt64
	err := m.admin.QueryRowContext(ctx, query).Scan(&n)
	return n.Int64, err
}

// Kill ends m at once (SIGKILL), as a crash would.
func (m *MariaDB) Kill() {
	if m.cmd.Process != nil {
		_ = m.cmd.Process.Signal(syscall.SIGKILL)
		_ = m.cmd.Wait()
	}
}

func (m *MariaDB) stop() {
	if m.cmd.ProcessState == nil {
		Stop(m.cmd, syscall.SIGTERM, 30*time.Second)
	}
}

// Stop sends cmd's process sig and waits for it to exit, killing it past
// limit.
func Stop(cmd *exec.Cmd, sig os.Signal, limit time.Duration) {
	_ = cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
	}
}

// FreePort is a loopback port nothing listens on at the moment.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
