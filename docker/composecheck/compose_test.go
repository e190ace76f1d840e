// Package composecheck checks the deployment files in docker/ and
// .config/deploy/ without a Docker engine: the compose file's structure, the
// Redis, nginx and systemd settings it relies on, and the Grafana dashboard's
// queries. Where docker-compose, nginx, systemd-analyze or redis-server are
// installed, the files are also handed to them.
package composecheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"

	"github.com/tiktok-lite/server/test/testenv"
)

// Paths are relative to this package's directory, where go test runs.
const (
	dockerDir = ".."
	repoRoot  = "../.."
	deployDir = "../../.config/deploy"
)

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image           string                      `yaml:"image"`
	Build           *composeBuild               `yaml:"build"`
	Command         []string                    `yaml:"command"`
	Environment     map[string]string           `yaml:"environment"`
	Ports           []string                    `yaml:"ports"`
	Volumes         []string                    `yaml:"volumes"`
	DependsOn       map[string]composeDependsOn `yaml:"depends_on"`
	Healthcheck     *composeHealthcheck         `yaml:"healthcheck"`
	StopGracePeriod string                      `yaml:"stop_grace_period"`
}

type composeBuild struct {
	Context    string            `yaml:"context"`
	Dockerfile string            `yaml:"dockerfile"`
	Args       map[string]string `yaml:"args"`
}

type composeDependsOn struct {
	Condition string `yaml:"condition"`
}

type composeHealthcheck struct {
	Test     []string `yaml:"test"`
	Interval string   `yaml:"interval"`
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	if err := yaml.Unmarshal(readFile(t, filepath.Join(dockerDir, "compose.yaml")), &c); err != nil {
		t.Fatalf("parse compose.yaml: %v", err)
	}
	return c
}

func service(t *testing.T, c composeFile, name string) composeService {
	t.Helper()
	s, ok := c.Services[name]
	if !ok {
		t.Fatalf("compose.yaml: service %q missing", name)
	}
	return s
}

func TestComposeServices(t *testing.T) {
	c := loadCompose(t)

	var got []string
	for name := range c.Services {
		got = append(got, name)
	}
	sort.Strings(got)
	want := []string{"mysql", "nginx", "rabbitmq", "redis", "server"}
	if !slices.Equal(got, want) {
		t.Fatalf("services = %v, want %v", got, want)
	}

	tests := []struct {
		service   string
		image     string
		healthCmd string // a word the healthcheck test must contain
	}{
		{"mysql", "mysql:8.4", "mysqladmin ping"},
		{"redis", "redis:7", "redis-cli ping"},
		{"rabbitmq", "rabbitmq:3.13-management", "rabbitmq-diagnostics"},
		{"nginx", "nginx:1.27", "/nginx-health"},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			s := service(t, c, tt.service)
			if s.Image != tt.image {
				t.Errorf("image = %q, want %q", s.Image, tt.image)
			}
			if s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 {
				t.Fatalf("healthcheck = %+v, want a test command", s.Healthcheck)
			}
			if got := strings.Join(s.Healthcheck.Test, " "); !strings.Contains(got, tt.healthCmd) {
				t.Errorf("healthcheck test = %q, want it to contain %q", got, tt.healthCmd)
			}
		})
	}
}

func TestComposeMySQLCharset(t *testing.T) {
	s := service(t, loadCompose(t), "mysql")
	for _, want := range []string{"--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"} {
		if !slices.Contains(s.Command, want) {
			t.Errorf("mysql command = %v, want it to contain %q", s.Command, want)
		}
	}
	if got := s.Environment["MYSQL_DATABASE"]; got != "tiktok" {
		t.Errorf("MYSQL_DATABASE = %q, want %q", got, "tiktok")
	}
}

func TestComposeServerDependsOnHealthy(t *testing.T) {
	c := loadCompose(t)
	tests := []struct {
		service string
		deps    []string
	}{
		{"server", []string{"mysql", "rabbitmq", "redis"}},
		{"nginx", []string{"server"}},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			s := service(t, c, tt.service)
			var got []string
			for name := range s.DependsOn {
				got = append(got, name)
			}
			sort.Strings(got)
			if !slices.Equal(got, tt.deps) {
				t.Fatalf("depends_on = %v, want %v", got, tt.deps)
			}
			for name, d := range s.DependsOn {
				if d.Condition != "service_healthy" {
					t.Errorf("depends_on %s condition = %q, want service_healthy", name, d.Condition)
				}
			}
		})
	}
}

func TestComposeServerEnvironment(t *testing.T) {
	c := loadCompose(t)
	s := service(t, c, "server")

	secret, ok := s.Environment["TIKTOK_JWT_SECRET"]
	if !ok {
		t.Fatal("server environment lacks TIKTOK_JWT_SECRET")
	}
	// ${VAR:?msg} (or ${VAR?msg}) makes compose refuse to start without it.
	required := regexp.MustCompile(`^\$\{TIKTOK_JWT_SECRET:?\?[^}]+\}$`)
	if !required.MatchString(secret) {
		t.Errorf("TIKTOK_JWT_SECRET = %q, want ${TIKTOK_JWT_SECRET:?message} with no default", secret)
	}
	raw := string(readFile(t, filepath.Join(dockerDir, "compose.yaml")))
	if regexp.MustCompile(`TIKTOK_JWT_SECRET:?-`).MatchString(raw) {
		t.Error("compose.yaml gives TIKTOK_JWT_SECRET a default somewhere")
	}

	tests := []struct {
		key  string
		want *regexp.Regexp
	}{
		{"TIKTOK_DATABASE_DRIVER", regexp.MustCompile(`^mysql$`)},
		{"TIKTOK_DATABASE_DSN", regexp.MustCompile(`^tiktok:[^@]+@tcp\(mysql:3306\)/tiktok\?.*charset=utf8mb4.*parseTime=true`)},
		{"TIKTOK_REDIS_ADDR", regexp.MustCompile(`^redis:6379$`)},
		{"TIKTOK_RABBITMQ_URL", regexp.MustCompile(`^amqp://[^@]+@rabbitmq:5672/`)},
		{"TIKTOK_DATA_DIR", regexp.MustCompile(`^/data$`)},
		{"TIKTOK_SERVER_ADDR", regexp.MustCompile(`:8080$`)},
	}
	for _, tt := range tests {
		if got := s.Environment[tt.key]; !tt.want.MatchString(got) {
			t.Errorf("%s = %q, want match of %s", tt.key, got, tt.want)
		}
	}
	// Every key the server reads is TIKTOK_-prefixed; a typo would be ignored silently.
	for key := range s.Environment {
		if !strings.HasPrefix(key, "TIKTOK_") {
			t.Errorf("server environment key %q lacks the TIKTOK_ prefix", key)
		}
	}
}

func TestComposePortsAndVolumes(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		if name == "nginx" {
			if len(s.Ports) != 1 || !strings.HasSuffix(s.Ports[0], ":80") {
				t.Errorf("nginx ports = %v, want one mapping to container port 80", s.Ports)
			}
			continue
		}
		if len(s.Ports) != 0 {
			t.Errorf("%s publishes ports %v, want none (only nginx)", name, s.Ports)
		}
	}

	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, ok := strings.Cut(v, ":")
			if !ok {
				t.Errorf("%s volume %q has no target", name, v)
				continue
			}
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(filepath.Join(dockerDir, src)); err != nil {
					t.Errorf("%s bind mount %q: %v", name, src, err)
				}
				continue
			}
			if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s uses volume %q, not declared under volumes", name, src)
			}
		}
	}
	if got := service(t, c, "server").Volumes; !slices.ContainsFunc(got, func(v string) bool { return strings.HasSuffix(v, ":/data") }) {
		t.Errorf("server volumes = %v, want a volume on /data", got)
	}
}

func TestComposeServerBuild(t *testing.T) {
	s := service(t, loadCompose(t), "server")
	if s.Build == nil {
		t.Fatal("server has no build section")
	}
	if s.Build.Context != ".." || s.Build.Dockerfile != "docker/Dockerfile" {
		t.Errorf("build = %+v, want context .. and dockerfile docker/Dockerfile", *s.Build)
	}
	if _, err := os.Stat(filepath.Join(dockerDir, s.Build.Context, s.Build.Dockerfile)); err != nil {
		t.Errorf("dockerfile: %v", err)
	}
	grace, err := time.ParseDuration(s.StopGracePeriod)
	if err != nil {
		t.Fatalf("stop_grace_period %q: %v", s.StopGracePeriod, err)
	}
	if shutdown := deployShutdownTimeout(t); grace <= shutdown {
		t.Errorf("stop_grace_period = %v, want more than server.shutdown_timeout %v", grace, shutdown)
	}
}

func TestDockerfile(t *testing.T) {
	df := string(readFile(t, filepath.Join(dockerDir, "Dockerfile")))
	tests := []struct {
		name string
		want *regexp.Regexp
	}{
		{"go builder", regexp.MustCompile(`(?m)^FROM .*golang:\$\{GO_VERSION\} AS build$`)},
		{"go version", regexp.MustCompile(`(?m)^ARG GO_VERSION=1\.26$`)},
		{"module cache mount", regexp.MustCompile(`--mount=type=cache,target=/go/pkg/mod`)},
		{"static build", regexp.MustCompile(`CGO_ENABLED=0`)},
		{"trimpath", regexp.MustCompile(`go build -trimpath`)},
		{"version stamp", regexp.MustCompile(`-X main\.version=\$\{VERSION\} -X main\.commit=\$\{COMMIT\}`)},
		{"main package", regexp.MustCompile(`\./cmd/tiktok-server`)},
		{"runtime base", regexp.MustCompile(`(?m)^FROM debian:bookworm-slim$`)},
		{"ffmpeg", regexp.MustCompile(`apt-get install [^\n]*ffmpeg`)},
		{"ca-certificates", regexp.MustCompile(`apt-get install [^\n]*ca-certificates`)},
		{"non-root user", regexp.MustCompile(`(?m)^USER tiktok`)},
		{"data volume", regexp.MustCompile(`(?m)^VOLUME \["/data"\]$`)},
		{"port", regexp.MustCompile(`(?m)^EXPOSE 8080$`)},
		{"healthcheck", regexp.MustCompile(`(?m)^HEALTHCHECK [^\n]*\\\n\s+CMD .*/healthz`)},
	}
	for _, tt := range tests {
		if !tt.want.MatchString(df) {
			t.Errorf("Dockerfile: %s: no match for %s", tt.name, tt.want)
		}
	}
}

// redisDirectives reads "key value" lines; later lines win, as in Redis.
func redisDirectives(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(string(readFile(t, path)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, _ := strings.Cut(line, " ")
		out[strings.ToLower(key)] = strings.TrimSpace(value)
	}
	return out
}

func TestRedisConf(t *testing.T) {
	shared := map[string]string{
		"maxmemory":            "256mb",
		"maxmemory-policy":     "allkeys-lfu",
		"appendonly":           "yes",
		"aof-use-rdb-preamble": "yes",
	}
	tests := []struct {
		path       string
		activeDefr string // "" means the directive must be absent
	}{
		{filepath.Join(dockerDir, "redis.conf"), "yes"},
		// Debian's redis-server cannot defragment (system jemalloc) and
		// refuses to start when asked to.
		{filepath.Join(deployDir, "redis.conf"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got := redisDirectives(t, tt.path)
			for key, want := range shared {
				if got[key] != want {
					t.Errorf("%s = %q, want %q", key, got[key], want)
				}
			}
			if got["activedefrag"] != tt.activeDefr {
				t.Errorf("activedefrag = %q, want %q", got["activedefrag"], tt.activeDefr)
			}
		})
	}
	// The compose file mounts the config and starts Redis with it.
	r := service(t, loadCompose(t), "redis")
	if !slices.Contains(r.Command, "/usr/local/etc/redis/redis.conf") ||
		!slices.Contains(r.Volumes, "./redis.conf:/usr/local/etc/redis/redis.conf:ro") {
		t.Errorf("redis command %v / volumes %v do not load docker/redis.conf", r.Command, r.Volumes)
	}
}

// nginxSize parses an nginx size such as 110m into bytes.
func nginxSize(s string) (int64, error) {
	mult := int64(1)
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse size %q: %w", s, err)
	}
	return n * mult, nil
}

func TestNginxConf(t *testing.T) {
	maxBytes := deployConfig(t).Upload.MaxBytes
	bodySize := regexp.MustCompile(`(?m)^\s*client_max_body_size\s+(\d+[kKmMgG]?)\s*;`)
	publishLoc := regexp.MustCompile(`location\s+~\s+(\S+)\s*\{([^}]*)\}`)
	tests := []struct {
		path     string
		upstream string
	}{
		{filepath.Join(dockerDir, "nginx.conf"), "server server:8080;"},
		{filepath.Join(deployDir, "nginx-tiktok.conf"), "server 127.0.0.1:8080;"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			conf := string(readFile(t, tt.path))
			m := bodySize.FindStringSubmatch(conf)
			if m == nil {
				t.Fatal("no client_max_body_size")
			}
			size, err := nginxSize(m[1])
			if err != nil {
				t.Fatal(err)
			}
			if size <= maxBytes {
				t.Errorf("client_max_body_size = %d bytes, want more than upload.max_bytes %d", size, maxBytes)
			}
			if !strings.Contains(conf, tt.upstream) {
				t.Errorf("upstream %q missing", tt.upstream)
			}
			for _, want := range []string{"proxy_set_header X-Request-ID", "proxy_set_header X-Forwarded-For", "proxy_set_header X-Real-IP", "location /media/", "gzip_types application/json"} {
				if !strings.Contains(conf, want) {
					t.Errorf("%q missing", want)
				}
			}

			loc := publishLoc.FindStringSubmatch(conf)
			if loc == nil {
				t.Fatal("no regex location for the publish route")
			}
			if !strings.Contains(loc[2], "proxy_request_buffering off;") {
				t.Errorf("publish location does not turn proxy_request_buffering off:\n%s", loc[2])
			}
			re, err := regexp.Compile(loc[1])
			if err != nil {
				t.Fatalf("publish location regex %q: %v", loc[1], err)
			}
			paths := []struct {
				path string
				want bool
			}{
				{"/douyin/publish/action/", true},
				{"/douyin/publish/action", true},
				{"/douyin/publish/list/", false},
				{"/douyin/publish/actionx", false},
			}
			for _, p := range paths {
				if got := re.MatchString(p.path); got != p.want {
					t.Errorf("publish location matches %s = %v, want %v", p.path, got, p.want)
				}
			}

			// The writes nginx may send to another instance after the
			// first died holding them: those that are safe to repeat, and
			// no other.
			retry := regexp.MustCompile(`location\s+~\s+(\S+)\s*\{[^}]*proxy_next_upstream error timeout non_idempotent;[^}]*\}`).FindStringSubmatch(conf)
			if retry == nil {
				t.Fatal("no location that lets nginx repeat the idempotent writes on another instance")
			}
			repeat := regexp.MustCompile(retry[1])
			for path, safe := range map[string]bool{
				"/douyin/favorite/action/": true, "/douyin/relation/action": true, "/douyin/comment/action/": true,
				"/douyin/message/action/": false, "/douyin/user/register/": false, "/douyin/user/login/": false,
				"/douyin/publish/action/": false, "/douyin/favorite/list/": false,
			} {
				if got := repeat.MatchString(path); got != safe {
					t.Errorf("nginx may repeat %s on another instance = %v, want %v", path, got, safe)
				}
			}
		})
	}
}

type deployYAML struct {
	Server struct {
		Addr            string `yaml:"addr"`
		PublicURL       string `yaml:"public_url"`
		ShutdownTimeout string `yaml:"shutdown_timeout"`
	} `yaml:"server"`
	DataDir  string `yaml:"data_dir"`
	Database struct {
		Driver string `yaml:"driver"`
		DSN    string `yaml:"dsn"`
	} `yaml:"database"`
	JWT struct {
		Secret string `yaml:"secret"`
	} `yaml:"jwt"`
	Upload struct {
		MaxBytes int64 `yaml:"max_bytes"`
	} `yaml:"upload"`
}

func deployConfig(t *testing.T) deployYAML {
	t.Helper()
	var c deployYAML
	if err := yaml.Unmarshal(readFile(t, filepath.Join(deployDir, "config.yaml")), &c); err != nil {
		t.Fatalf("parse config.yaml: %v", err)
	}
	return c
}

func deployShutdownTimeout(t *testing.T) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(deployConfig(t).Server.ShutdownTimeout)
	if err != nil {
		t.Fatalf("server.shutdown_timeout: %v", err)
	}
	return d
}

// keyPaths flattens a YAML mapping into dotted key paths of its leaves.
func keyPaths(prefix string, v any, out map[string]bool) {
	m, ok := v.(map[string]any)
	if !ok {
		out[prefix] = true
		return
	}
	for k, child := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		keyPaths(p, child, out)
	}
}

func TestDeployConfig(t *testing.T) {
	var raw map[string]any
	if err := yaml.Unmarshal(readFile(t, filepath.Join(deployDir, "config.yaml")), &raw); err != nil {
		t.Fatalf("parse config.yaml: %v", err)
	}
	got := map[string]bool{}
	keyPaths("", raw, got)
	want := []string{
		"server.addr", "server.public_url", "server.shutdown_timeout", "server.upload_timeout",
		"data_dir",
		"log.level", "log.format", "log.file", "log.max_size_mb", "log.max_backups", "log.max_age_days",
		"database.driver", "database.dsn", "database.max_open_conns", "database.max_idle_conns", "database.conn_max_lifetime",
		"jwt.secret", "jwt.issuer", "jwt.ttl",
		"redis.addr", "redis.password", "redis.db",
		"rabbitmq.url",
		"storage.backend", "storage.local.dir",
		"storage.oss.endpoint", "storage.oss.region", "storage.oss.bucket", "storage.oss.credentials", "storage.oss.access_key_id",
		"storage.oss.access_key_secret", "storage.oss.prefix", "storage.oss.public_url", "storage.oss.url_mode", "storage.oss.url_lifetime",
		"upload.max_bytes", "upload.ffmpeg", "upload.cover_timeout",
		"seed.demo",
	}
	for _, k := range want {
		if !got[k] {
			t.Errorf("config.yaml lacks %s", k)
		}
		delete(got, k)
	}
	for k := range got {
		t.Errorf("config.yaml has unknown key %s", k)
	}

	c := deployConfig(t)
	if c.Database.Driver != "mysql" {
		t.Errorf("database.driver = %q, want mysql", c.Database.Driver)
	}
	// Secrets belong in the env file, never in a committed config.
	if c.JWT.Secret != "" || c.Database.DSN != "" {
		t.Errorf("jwt.secret %q / database.dsn %q, want both empty (set in the env file)", c.JWT.Secret, c.Database.DSN)
	}
	if c.DataDir != "/var/lib/tiktok-server" {
		t.Errorf("data_dir = %q, want /var/lib/tiktok-server", c.DataDir)
	}
}

// unitDirectives reads Key=Value lines of a systemd unit; repeated keys keep every value.
func unitDirectives(t *testing.T, path string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, line := range strings.Split(string(readFile(t, path)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		key, value, _ := strings.Cut(line, "=")
		out[key] = append(out[key], value)
	}
	return out
}

func TestSystemdUnit(t *testing.T) {
	got := unitDirectives(t, filepath.Join(deployDir, "tiktok-server.service"))
	tests := []struct {
		key, want string
	}{
		{"User", "tiktok"},
		{"EnvironmentFile", "/etc/tiktok-server/env"},
		{"ExecStart", "/usr/local/bin/tiktok-server --config /etc/tiktok-server/config.yaml"},
		{"Restart", "on-failure"},
		{"NoNewPrivileges", "true"},
		{"ProtectSystem", "strict"},
		{"ReadWritePaths", "/var/lib/tiktok-server"},
		{"PrivateTmp", "true"},
		{"LimitNOFILE", "65536"},
		{"WantedBy", "multi-user.target"},
	}
	for _, tt := range tests {
		if !slices.Contains(got[tt.key], tt.want) {
			t.Errorf("%s = %v, want %q", tt.key, got[tt.key], tt.want)
		}
	}
	stops := got["TimeoutStopSec"]
	if len(stops) != 1 {
		t.Fatalf("TimeoutStopSec = %v, want one value", stops)
	}
	stop, err := time.ParseDuration(stops[0])
	if err != nil {
		t.Fatalf("TimeoutStopSec %q: %v", stops[0], err)
	}
	if shutdown := deployShutdownTimeout(t); stop <= shutdown {
		t.Errorf("TimeoutStopSec = %v, want more than server.shutdown_timeout %v", stop, shutdown)
	}
}

func TestEnvExample(t *testing.T) {
	env := string(readFile(t, filepath.Join(deployDir, "env.example")))
	for _, key := range []string{"TIKTOK_JWT_SECRET", "TIKTOK_DATABASE_DSN", "TIKTOK_RABBITMQ_URL"} {
		if !regexp.MustCompile(`(?m)^` + key + `=`).MatchString(env) {
			t.Errorf("env.example lacks %s=", key)
		}
	}
	// An empty secret makes the server refuse to start, rather than run with a
	// placeholder somebody forgot to change.
	if !regexp.MustCompile(`(?m)^TIKTOK_JWT_SECRET=$`).MatchString(env) {
		t.Error("env.example TIKTOK_JWT_SECRET must be empty")
	}
}

func TestMariaDBAndRabbitMQConf(t *testing.T) {
	tests := []struct {
		file string
		want []*regexp.Regexp
	}{
		{"mariadb-tiktok.cnf", []*regexp.Regexp{
			regexp.MustCompile(`(?m)^\[mysqld\]$`),
			regexp.MustCompile(`(?m)^character-set-server\s*=\s*utf8mb4$`),
			regexp.MustCompile(`(?m)^collation-server\s*=\s*utf8mb4_unicode_ci$`),
			regexp.MustCompile(`(?m)^innodb_buffer_pool_size\s*=\s*\d+[MG]$`),
			regexp.MustCompile(`(?m)^innodb_flush_log_at_trx_commit\s*=\s*1$`),
			regexp.MustCompile(`(?m)^max_connections\s*=\s*\d+$`),
		}},
		{"rabbitmq.conf", []*regexp.Regexp{
			regexp.MustCompile(`(?m)^vm_memory_high_watermark\.relative\s*=\s*0\.\d+$`),
			regexp.MustCompile(`(?m)^disk_free_limit\.absolute\s*=\s*\d+[KMG]B$`),
			regexp.MustCompile(`(?m)^listeners\.tcp\.\w+\s*=\s*127\.0\.0\.1:5672$`),
		}},
	}
	for _, tt := range tests {
		conf := string(readFile(t, filepath.Join(deployDir, tt.file)))
		for _, re := range tt.want {
			if !re.MatchString(conf) {
				t.Errorf("%s: no line matching %s", tt.file, re)
			}
		}
	}
}

type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	Targets    []struct {
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr    string
		want    []string
		wantErr error
	}{
		{`go_goroutines{job=~"$job"}`, []string{"go_goroutines"}, nil},
		{`sum by (route) (rate(a_total{x!="0"}[$__rate_interval])) / sum(rate(b_total[5m]))`, []string{"a_total", "b_total"}, nil},
		{`histogram_quantile(0.99, sum by (route, le) (rate(h_bucket[1m])))`, []string{"h_bucket"}, nil},
		{`a_total > bool 1e3`, []string{"a_total"}, nil},
		{`label_replace(a_total, "x", "$1", "y", "(.*)")`, nil, testenv.ErrUnknownFunction},
		{`sum(rate(x[5m]`, []string{"x"}, nil},
		{`vector(1)`, nil, testenv.ErrNoMetric},
	}
	for _, tt := range tests {
		got, err := testenv.MetricNames(tt.expr)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("testenv.MetricNames(%q) error = %v, want %v", tt.expr, err, tt.wantErr)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("testenv.MetricNames(%q) = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

func flattenPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flattenPanels(p.Panels)...)
	}
	return out
}

func TestGrafanaDashboard(t *testing.T) {
	var d dashboard
	raw := readFile(t, filepath.Join(dockerDir, "grafana-dashboard.json"))
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q, uid %q: want both set", d.Title, d.UID)
	}

	const dsVar = "${datasource}"
	hasDSVar := false
	var exprs []string
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			if v.Name == "datasource" && string(v.Query) == `"prometheus"` {
				hasDSVar = true
			}
		case "query":
			if v.Datasource == nil || v.Datasource.UID != dsVar {
				t.Errorf("variable %s datasource = %+v, want uid %s", v.Name, v.Datasource, dsVar)
			}
			var q struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Errorf("variable %s query: %v", v.Name, err)
				continue
			}
			m := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`).FindStringSubmatch(q.Query)
			if m == nil {
				t.Errorf("variable %s query %q, want label_values(metric, label)", v.Name, q.Query)
				continue
			}
			exprs = append(exprs, m[1])
		}
	}
	if !hasDSVar {
		t.Error("no datasource variable named datasource of type prometheus")
	}

	ids := map[int]string{}
	for _, p := range flattenPanels(d.Panels) {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panel id %d used by %q and %q", p.ID, prev, p.Title)
		}
		ids[p.ID] = p.Title
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != dsVar {
			t.Errorf("panel %q datasource = %+v, want uid %s", p.Title, p.Datasource, dsVar)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || tg.Datasource.UID != dsVar {
				t.Errorf("panel %q target datasource = %+v, want uid %s", p.Title, tg.Datasource, dsVar)
			}
			exprs = append(exprs, tg.Expr)
		}
	}

	// Every query must parse; test/e2e.TestDashboardCoversEveryMetric
	// compares the names with what a real server exports.
	for _, e := range exprs {
		if _, err := testenv.MetricNames(e); err != nil {
			t.Error(err)
		}
	}
	for _, e := range exprs {
		if strings.Contains(e, "go_sql_") && !strings.Contains(e, `db_name="tiktok"`) {
			t.Errorf("query %q: want db_name=\"tiktok\" on go_sql_ metrics", e)
		}
	}
}

// The checks below hand the files to the real tools when they are installed
// (Debian: docker-compose, nginx-core, systemd, redis-server) and skip otherwise.

func lookTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed: %v", name, err)
	}
	return path
}

// envWithout returns the process environment less the named variables.
func envWithout(names ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, key) {
			out = append(out, kv)
		}
	}
	return out
}

func TestComposeConfigTool(t *testing.T) {
	bin := lookTool(t, "docker-compose")
	abs, err := filepath.Abs(filepath.Join(dockerDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     []string
		wantOK  bool
		wantOut string
	}{
		{"with secret", append(envWithout("TIKTOK_JWT_SECRET"), "TIKTOK_JWT_SECRET=0123456789abcdef0123456789abcdef"), true, ""},
		{"without secret", envWithout("TIKTOK_JWT_SECRET"), false, "set TIKTOK_JWT_SECRET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "-f", abs, "config", "-q")
			cmd.Env = tt.env
			out, err := cmd.CombinedOutput()
			if gotOK := err == nil; gotOK != tt.wantOK {
				t.Fatalf("docker-compose config ok = %v, want %v; output:\n%s", gotOK, tt.wantOK, out)
			}
			if !strings.Contains(string(out), tt.wantOut) {
				t.Errorf("output = %q, want it to contain %q", out, tt.wantOut)
			}
		})
	}
}

func TestNginxConfigTool(t *testing.T) {
	bin := lookTool(t, "nginx")
	mime := "/etc/nginx/mime.types"
	if _, err := os.Stat(mime); err != nil {
		t.Skipf("no %s: %v", mime, err)
	}
	tests := []struct {
		path    string
		replace []string // old, new pairs applied before the check
	}{
		// nginx -t resolves upstream names; "server" exists only on the compose network.
		{filepath.Join(dockerDir, "nginx.conf"), []string{"server server:8080;", "server 127.0.0.1:8080;"}},
		{filepath.Join(deployDir, "nginx-tiktok.conf"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			dir := t.TempDir()
			site := string(readFile(t, tt.path))
			site = strings.NewReplacer(tt.replace...).Replace(site)
			site = strings.ReplaceAll(site, "/var/log/nginx/", dir+"/")
			sitePath := filepath.Join(dir, "site.conf")
			if err := os.WriteFile(sitePath, []byte(site), 0o600); err != nil {
				t.Fatal(err)
			}
			main := fmt.Sprintf(`pid %[1]s/nginx.pid;
events {}
http {
    include %[2]s;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    access_log off;
    include %[3]s;
}
`, dir, mime, sitePath)
			mainPath := filepath.Join(dir, "nginx.conf")
			if err := os.WriteFile(mainPath, []byte(main), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, "-t", "-q", "-e", "stderr", "-p", dir, "-c", mainPath).CombinedOutput()
			if err != nil {
				t.Fatalf("nginx -t: %v\n%s", err, out)
			}
		})
	}
}

func TestSystemdUnitTool(t *testing.T) {
	bin := lookTool(t, "systemd-analyze")
	dir := t.TempDir()
	// verify wants ExecStart to exist; point it at a stand-in.
	exe := filepath.Join(dir, "tiktok-server")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(readFile(t, filepath.Join(deployDir, "tiktok-server.service"))),
		"/usr/local/bin/tiktok-server", exe)
	unitPath := filepath.Join(dir, "tiktok-server.service")
	if err := os.WriteFile(unitPath, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "verify", unitPath).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "Unknown") {
		t.Errorf("systemd-analyze verify warns:\n%s", out)
	}
}

// TestRedisDeployConfigTool starts the local redis-server with the VM snippet
// and reads the settings back: the snippet must load on Debian's Redis.
func TestRedisDeployConfigTool(t *testing.T) {
	bin := lookTool(t, "redis-server")
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Read only after the process has exited: exec copies into it meanwhile.
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, filepath.Join(deployDir, "redis.conf"),
		"--port", "0", "--unixsocket", sock, "--dir", dir, "--daemonize", "no", "--save", "")
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
	})

	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: sock})
	t.Cleanup(func() {
		if err := rdb.Close(); err != nil {
			t.Errorf("close redis client: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			exited <- werr
			t.Fatalf("redis-server exited: %v\n%s", werr, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			werr := <-exited
			exited <- werr
			t.Fatalf("redis-server not up after 10s: %v (exit: %v)\n%s", err, werr, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	tests := []struct {
		key, want string
	}{
		{"maxmemory", strconv.Itoa(256 << 20)},
		{"maxmemory-policy", "allkeys-lfu"},
		{"appendonly", "yes"},
		{"aof-use-rdb-preamble", "yes"},
	}
	for _, tt := range tests {
		got, err := rdb.ConfigGet(ctx, tt.key).Result()
		if err != nil {
			t.Fatalf("CONFIG GET %s: %v", tt.key, err)
		}
		if got[tt.key] != tt.want {
			t.Errorf("CONFIG GET %s = %q, want %q", tt.key, got[tt.key], tt.want)
		}
	}
}

// TestAlertRulesTool hands the alert rules to promtool (Debian: prometheus):
// they must load, and each alert must fire on the series of
// prometheus-alerts.test.yaml that should raise it, and only there.
func TestAlertRulesTool(t *testing.T) {
	promtool := lookTool(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", "prometheus-alerts.yaml"},
		{"test", "rules", "prometheus-alerts.test.yaml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dockerDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
