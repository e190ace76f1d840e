package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzLoad loads arbitrary YAML, with one arbitrary TIKTOK_* variable on
// top: Load must never panic, every refusal must name the config, and
// whatever it accepts must pass Validate again and carry usable values.
func FuzzLoad(f *testing.F) {
	keys := make([]string, 0, len(defaults()))
	for k := range defaults() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	shipped := []string{filepath.Join("..", "..", DefaultPath), filepath.Join("..", "..", ".config", "config.fullstack.yaml")}
	for _, p := range shipped {
		if raw, err := os.ReadFile(p); err == nil {
			f.Add(raw, uint8(0), "")
		}
	}
	for _, s := range []struct {
		yaml string
		key  string
		val  string
	}{
		{"", "", ""},
		{"server:\n  addr: \":9000\"\n", "server.request_timeout", "3s"},
		{"server: [1, 2]\n", "", ""},
		{"server:\n  request_timeout: -1s\n", "", ""},
		{"server:\n  request_timeout: 1\n", "", ""},
		{"server:\n  trusted_proxies: 10.0.0.1\n", "server.trusted_proxies", "a,b,,c"},
		{"database:\n  driver: mysql\n  dsn: x\njwt:\n  secret: " + strings.Repeat("s", 32) + "\n", "database.max_open_conns", "-3"},
		{"database:\n  replicas: [a, b]\n", "", ""},
		{"unknown: 1\n", "", ""},
		{"log: {level: debug, format: json}\n", "log.level", "trace"},
		{"redis:\n  addr: 127.0.0.1:6379\n  ttl: 0s\n", "redis.timeout", "1h"},
		{"storage:\n  backend: oss\n", "storage.oss.bucket", "b"},
		{"upload:\n  max_bytes: 1e99\n", "", ""},
		{"? [a]\n: b\n", "", ""},
		{"a: &x [*x]\n", "", ""},
		{"server: !!binary aGVsbG8=\n", "", ""},
		{"data_dir: ''\n", "data_dir", ""},
		{"\xff\xfe", "server.addr", "\x00"},
	} {
		f.Add([]byte(s.yaml), uint8(max(slices.Index(keys, s.key), 0)), s.val)
	}
	f.Fuzz(func(t *testing.T, yaml []byte, key uint8, val string) {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, yaml, 0o600); err != nil {
			t.Fatal(err)
		}
		name := EnvName(keys[int(key)%len(keys)])
		cfg, err := Load(path, func(k string) string {
			if k == name {
				return val
			}
			return ""
		})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config") {
				t.Fatalf("Load error %q does not say it is the configuration", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Load accepted a config that Validate refuses: %v", err)
		}
		if cfg.Server.RequestTimeout <= 0 || cfg.Server.ShutdownTimeout <= 0 || cfg.Server.MaxBodyBytes <= 0 ||
			cfg.DataDir == "" || cfg.Storage.Local.Dir == "" || cfg.Database.MaxOpenConns <= 0 {
			t.Fatalf("Load accepted unusable values: %+v", cfg)
		}
		if !cfg.Embedded() && len(cfg.JWT.Secret) < 32 {
			t.Fatalf("Load accepted a %d-character secret outside the embedded default", len(cfg.JWT.Secret))
		}
	})
}
