package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaultsAreEmbedded(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", DefaultPath), env(nil))
	if err != nil {
		t.Fatalf("Load(shipped default) error: %v", err)
	}
	if !cfg.Embedded() {
		t.Errorf("shipped default driver = %q, want sqlite", cfg.Database.Driver)
	}
	if cfg.Redis.Addr != "" || cfg.RabbitMQ.URL != "" {
		t.Errorf("shipped default needs Redis %q / RabbitMQ %q, want neither", cfg.Redis.Addr, cfg.RabbitMQ.URL)
	}
	if want := filepath.Join(cfg.DataDir, "tiktok.db"); cfg.Database.DSN != want {
		t.Errorf("sqlite dsn = %q, want %q", cfg.Database.DSN, want)
	}
}

func TestShippedFullStackExampleLoadsWithSecret(t *testing.T) {
	path := filepath.Join("..", "..", ".config", "config.fullstack.yaml")
	_, err := Load(path, env(nil))
	if err == nil || !strings.Contains(err.Error(), "jwt.secret") {
		t.Fatalf("full-stack example without a secret: err = %v, want a jwt.secret error", err)
	}
	cfg, err := Load(path, env(map[string]string{"TIKTOK_JWT_SECRET": strings.Repeat("s", 40)}))
	if err != nil {
		t.Fatalf("full-stack example with a secret: %v", err)
	}
	if cfg.Database.Driver != "mysql" || cfg.Redis.Addr == "" || cfg.RabbitMQ.URL == "" {
		t.Errorf("full-stack example = %+v, want mysql, redis and rabbitmq set", cfg)
	}
}

func TestEnvOverridesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("server:\n  addr: \":9000\"\nupload:\n  max_bytes: 10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, env(map[string]string{
		"TIKTOK_SERVER_ADDR":             ":9100",
		"TIKTOK_SERVER_SHUTDOWN_TIMEOUT": "3s",
		"TIKTOK_STORAGE_OSS_BUCKET":      "b",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Server.Addr != ":9100" {
		t.Errorf("addr = %q, want env value :9100", cfg.Server.Addr)
	}
	if cfg.Upload.MaxBytes != 10 {
		t.Errorf("max_bytes = %d, want file value 10", cfg.Upload.MaxBytes)
	}
	if cfg.Server.ShutdownTimeout != 3*time.Second {
		t.Errorf("shutdown_timeout = %s, want 3s", cfg.Server.ShutdownTimeout)
	}
	if cfg.Storage.OSS.Bucket != "b" {
		t.Errorf("oss bucket = %q, want b", cfg.Storage.OSS.Bucket)
	}
}

// ossEnv is a valid OSS setup with set applied and the keys of drop removed.
func ossEnv(set map[string]string, drop ...string) map[string]string {
	env := map[string]string{
		"TIKTOK_STORAGE_BACKEND": "oss", "TIKTOK_STORAGE_OSS_ENDPOINT": "oss-cn-hangzhou.aliyuncs.com",
		"TIKTOK_STORAGE_OSS_REGION": "cn-hangzhou", "TIKTOK_STORAGE_OSS_BUCKET": "b",
		"TIKTOK_STORAGE_OSS_ACCESS_KEY_ID": "id", "TIKTOK_STORAGE_OSS_ACCESS_KEY_SECRET": "secret",
	}
	for k, v := range set {
		env[k] = v
	}
	for _, k := range drop {
		delete(env, k)
	}
	return env
}

// Credentials from the environment or an ECS role need no key pair here.
func TestOSSCredentialKinds(t *testing.T) {
	for _, kind := range []string{"env", "ecs_ram_role"} {
		vars := ossEnv(map[string]string{"TIKTOK_STORAGE_OSS_CREDENTIALS": kind}, "TIKTOK_STORAGE_OSS_ACCESS_KEY_ID", "TIKTOK_STORAGE_OSS_ACCESS_KEY_SECRET")
		if _, err := Load("", env(vars)); err != nil {
			t.Errorf("credentials %s: %v", kind, err)
		}
	}
	if _, err := Load("", env(ossEnv(nil))); err != nil {
		t.Errorf("a valid OSS setup: %v", err)
	}
}

// Zero needs no unit: the docs turn settings off with 0.
func TestZeroDurationNeedsNoUnit(t *testing.T) {
	cfg, err := Load("", env(map[string]string{"TIKTOK_CACHE_LOCAL_TTL": "0"}))
	if err != nil {
		t.Fatalf("TIKTOK_CACHE_LOCAL_TTL=0: %v", err)
	}
	if cfg.Cache.LocalTTL != 0 {
		t.Fatalf("cache.local_ttl = %s, want 0", cfg.Cache.LocalTTL)
	}
	dir := t.TempDir()
	path := dir + "/c.yaml"
	if err := os.WriteFile(path, []byte("cache:\n  local_ttl: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err = Load(path, env(nil)); err != nil || cfg.Cache.LocalTTL != 0 {
		t.Fatalf("local_ttl: 0 in YAML: %v, %v", cfg, err)
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		file string
		want string
	}{
		{"driver", map[string]string{"TIKTOK_DATABASE_DRIVER": "postgres"}, "", "database.driver"},
		{"mysql without dsn", map[string]string{"TIKTOK_DATABASE_DRIVER": "mysql", "TIKTOK_JWT_SECRET": strings.Repeat("x", 32)}, "", "database.dsn"},
		{"mysql sample secret", map[string]string{"TIKTOK_DATABASE_DRIVER": "mysql", "TIKTOK_DATABASE_DSN": "u@tcp(h)/d", "TIKTOK_JWT_SECRET": SampleJWTSecret}, "", "jwt.secret"},
		{"mysql short secret", map[string]string{"TIKTOK_DATABASE_DRIVER": "mysql", "TIKTOK_DATABASE_DSN": "u@tcp(h)/d", "TIKTOK_JWT_SECRET": "short"}, "", "jwt.secret"},
		{"duration", map[string]string{"TIKTOK_SERVER_SHUTDOWN_TIMEOUT": "soon"}, "", "shutdown_timeout"},
		{"duration without a unit in YAML", nil, "server:\n  request_timeout: 30\n", "request_timeout"},
		{"duration without a unit in a variable", map[string]string{"TIKTOK_SERVER_REQUEST_TIMEOUT": "30"}, "", "request_timeout"},
		{"public url", map[string]string{"TIKTOK_SERVER_PUBLIC_URL": "localhost:8080"}, "", "server.public_url"},
		{"oss", map[string]string{"TIKTOK_STORAGE_BACKEND": "oss"}, "", "storage.oss.bucket"},
		{"oss without region", ossEnv(nil, "TIKTOK_STORAGE_OSS_REGION"), "", "storage.oss.region"},
		{"oss sign version", ossEnv(map[string]string{"TIKTOK_STORAGE_OSS_SIGN_VERSION": "v2"}), "", "storage.oss.sign_version"},
		{"oss credentials kind", ossEnv(map[string]string{"TIKTOK_STORAGE_OSS_CREDENTIALS": "file"}), "", "storage.oss.credentials"},
		{"oss key without secret", ossEnv(nil, "TIKTOK_STORAGE_OSS_ACCESS_KEY_SECRET"), "", "storage.oss.access_key_secret"},
		{"oss url mode", ossEnv(map[string]string{"TIKTOK_STORAGE_OSS_URL_MODE": "private"}), "", "storage.oss.url_mode"},
		{"oss url lifetime", ossEnv(map[string]string{"TIKTOK_STORAGE_OSS_URL_MODE": "signed", "TIKTOK_STORAGE_OSS_URL_LIFETIME": "200h"}), "", "storage.oss.url_lifetime"},
		{"oss signed with v1", ossEnv(map[string]string{"TIKTOK_STORAGE_OSS_URL_MODE": "signed", "TIKTOK_STORAGE_OSS_SIGN_VERSION": "v1"}), "", "storage.oss.url_mode"},
		{"log level", map[string]string{"TIKTOK_LOG_LEVEL": "loud"}, "", "log.level"},
		{"tracing endpoint", map[string]string{"TIKTOK_TRACING_ENABLED": "true", "TIKTOK_TRACING_ENDPOINT": "127.0.0.1:4318"}, "", "tracing.endpoint"},
		{"tracing endpoint scheme", map[string]string{"TIKTOK_TRACING_ENDPOINT": "grpc://127.0.0.1:4317"}, "", "tracing.endpoint"},
		{"tracing ratio", map[string]string{"TIKTOK_TRACING_SAMPLE_RATIO": "1.5"}, "", "tracing.sample_ratio"},
		{"tracing negative ratio", map[string]string{"TIKTOK_TRACING_SAMPLE_RATIO": "-0.1"}, "", "tracing.sample_ratio"},
		{"tracing service name", map[string]string{"TIKTOK_TRACING_ENABLED": "true", "TIKTOK_TRACING_SERVICE_NAME": " "}, "", "tracing.service_name"},
		{"unknown key", nil, "servr:\n  addr: x\n", "servr"},
		{"missing file", nil, "-", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			switch tt.file {
			case "-":
			case "":
				path = ""
			default:
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(path, env(tt.env))
			if err == nil {
				t.Fatalf("Load succeeded, want an error naming %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans several lines, want one", err)
			}
		})
	}
}

func TestTracing(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want Tracing
	}{
		{"off by default", nil, Tracing{Enabled: false, Endpoint: "http://127.0.0.1:4318", SampleRatio: 1, ServiceName: "tiktok-server"}},
		{"from env", map[string]string{
			"TIKTOK_TRACING_ENABLED":      "true",
			"TIKTOK_TRACING_ENDPOINT":     "https://otel.example.com:4318",
			"TIKTOK_TRACING_SAMPLE_RATIO": "0.25",
			"TIKTOK_TRACING_SERVICE_NAME": "tiktok-eu",
		}, Tracing{Enabled: true, Endpoint: "https://otel.example.com:4318", SampleRatio: 0.25, ServiceName: "tiktok-eu"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load("", env(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Tracing != tt.want {
				t.Errorf("tracing = %+v, want %+v", cfg.Tracing, tt.want)
			}
		})
	}
}

// An empty variable switches its setting off, whatever the file says;
// Load, which cannot see the difference, leaves the file's value.
func TestEmptyVariableSwitchesOff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("redis:\n  addr: 127.0.0.1:6379\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadEnv(path, func(k string) (string, bool) { return "", k == "TIKTOK_REDIS_ADDR" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Redis.Addr != "" {
		t.Errorf("TIKTOK_REDIS_ADDR= left redis.addr = %q, want it off", cfg.Redis.Addr)
	}
	cfg, err = Load(path, env(map[string]string{"TIKTOK_REDIS_ADDR": ""}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Redis.Addr != "127.0.0.1:6379" {
		t.Errorf("Load with an empty getenv value changed redis.addr to %q", cfg.Redis.Addr)
	}
}

// The deploy guide's placeholders cannot start a server.
func TestPlaceholdersRefused(t *testing.T) {
	for key, val := range map[string]string{
		"TIKTOK_SERVER_PUBLIC_URL": "http://VM_IP",
		"TIKTOK_RABBITMQ_URL":      "amqp://tiktok:CHANGE_ME@127.0.0.1:5672/",
	} {
		_, err := Load("", env(map[string]string{key: val}))
		if err == nil || !strings.Contains(err.Error(), "placeholder") {
			t.Errorf("%s=%s: %v, want the placeholder refused", key, val, err)
		}
	}
}
