// Package testenv gives tests the real services: a fresh MariaDB/MySQL
// database per test, a SQLite file, Redis and RabbitMQ addresses. A service
// that cannot be reached skips the test with the reason, except under
// CI=true, where it fails it: CI must never pass by skipping.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/config"
	"github.com/tiktok-lite/server/pkg/mq"
)

// Unavailable skips t, or fails it under CI=true.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("required service unavailable under CI: %s", msg)
	}
	t.Skipf("skipping: %s", msg)
}

// command is the path of an installed program, or skips t (fails it
// under CI=true) naming the Debian package that has it.
func command(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "%s is not installed (apt-get install %s): %v", name, pkg, err)
	}
	return path
}

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// RandomSuffix is a short random hex string for unique names.
func RandomSuffix() string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// MySQLServerDSN is the DSN of the test server without a database.
func MySQLServerDSN() string {
	return getenv("TIKTOK_TEST_MYSQL_DSN", "root:@tcp(127.0.0.1:3306)/?charset=utf8mb4&parseTime=true&loc=UTC")
}

// MySQLDatabase creates a fresh database on the test server, drops it when
// the test ends, and returns a DSN that points at it.
func MySQLDatabase(t testing.TB) string {
	t.Helper()
	base, err := mysql.ParseDSN(MySQLServerDSN())
	if err != nil {
		t.Fatalf("TIKTOK_TEST_MYSQL_DSN: %v", err)
	}
	base.DBName = ""
	admin, err := sql.Open("mysql", base.FormatDSN())
	if err != nil {
		t.Fatalf("open mysql: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		Unavailable(t, "MySQL at %s: %v", base.Addr, err)
	}
	name := "tiktok_test_" + RandomSuffix()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	base.DBName = name
	return base.FormatDSN()
}

// Backend is one database the repository suite runs against.
type Backend struct {
	Name string
	Cfg  config.Database
}

// Backends returns SQLite and, when reachable, a fresh MySQL database.
func Backends(t testing.TB) []Backend {
	t.Helper()
	return []Backend{
		{Name: "sqlite", Cfg: SQLiteConfig(t)},
		{Name: "mysql", Cfg: MySQLConfig(t)},
	}
}

// SQLiteConfig points at a new SQLite file in a temporary directory.
func SQLiteConfig(t testing.TB) config.Database {
	return config.Database{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "test.db"), MaxOpenConns: 8, MaxIdleConns: 8}
}

// MySQLConfig points at a fresh MySQL database.
func MySQLConfig(t testing.TB) config.Database {
	return MySQLConfigFor(MySQLDatabase(t))
}

// MySQLConfigFor points at the database of dsn.
func MySQLConfigFor(dsn string) config.Database {
	return config.Database{Driver: "mysql", DSN: dsn, MaxOpenConns: 60, MaxIdleConns: 30, ConnMaxLifetime: time.Minute, ReplicaMaxLag: time.Second}
}

// OpenDB opens and migrates the backend's database.
func OpenDB(t testing.TB, cfg config.Database) *gorm.DB {
	t.Helper()
	db, err := model.Open(cfg, zap.NewNop())
	if err != nil {
		t.Fatalf("open %s: %v", cfg.Driver, err)
	}
	t.Cleanup(func() {
		if err := model.Close(db); err != nil {
			t.Errorf("close db: %v", err)
		}
	})
	if err := model.Migrate(db); err != nil {
		t.Fatalf("migrate %s: %v", cfg.Driver, err)
	}
	return db
}

// RedisAddr returns the test Redis address, or skips/fails when it is down.
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := getenv("TIKTOK_TEST_REDIS_ADDR", "127.0.0.1:6379")
	reachable(t, "Redis", addr)
	return addr
}

// AMQPURL returns the test RabbitMQ URL, or skips/fails when it is down.
func AMQPURL(t testing.TB) string {
	t.Helper()
	url := getenv("TIKTOK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
	host := strings.TrimPrefix(url, "amqp://")
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	host = strings.TrimSuffix(strings.SplitN(host, "/", 2)[0], "/")
	reachable(t, "RabbitMQ", host)
	return url
}

func reachable(t testing.TB, what, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		Unavailable(t, "%s at %s: %v", what, addr, err)
		return
	}
	conn.Close()
}

// DeleteBrokerTopology removes the exchange and queues a broker with cfg
// declared; tests call it in Cleanup so runs leave the broker as found.
func DeleteBrokerTopology(t testing.TB, cfg mq.Config) {
	t.Helper()
	exchange, queues, err := mq.Declared(cfg)
	if err != nil {
		t.Errorf("broker topology: %v", err)
		return
	}
	conn, err := amqp.Dial(cfg.URL)
	if err != nil {
		t.Errorf("clean rabbitmq: %v", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Errorf("clean rabbitmq: %v", err)
		return
	}
	for _, q := range queues {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Errorf("delete queue %s: %v", q, err)
			return
		}
	}
	if err := ch.ExchangeDelete(exchange, false, false); err != nil {
		t.Errorf("delete exchange %s: %v", exchange, err)
	}
}

// AppConfig is the configuration a test's service graph (app.NewCore) is
// built from: db, everything else in a temporary data directory, no Redis
// and no RabbitMQ, no demo data, no upload quota, the in-process layer off,
// and the cheapest bcrypt cost (mode test).
func AppConfig(t testing.TB, db config.Database) *config.Config {
	t.Helper()
	env := map[string]string{
		"mode": "test", "auth.bcrypt_cost": "4", "data_dir": t.TempDir(), "jwt.secret": strings.Repeat("t", 32),
		"redis.addr": "", "rabbitmq.url": "", "seed.demo": "false", "cache.local_ttl": "0",
		"upload.quota_videos": "0", "upload.quota_bytes": "0",
	}
	cfg, err := config.LoadEnv("", func(name string) (string, bool) {
		for k, v := range env {
			if config.EnvName(k) == name {
				return v, true
			}
		}
		return "", false
	})
	if err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	cfg.Database = db
	return cfg
}
