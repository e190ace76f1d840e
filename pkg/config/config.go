// Package config loads the server configuration from a YAML file and
// TIKTOK_-prefixed environment variables into one typed struct.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// Config is the whole configuration of the server.
type Config struct {
	Mode      string    `mapstructure:"mode"`
	Server    Server    `mapstructure:"server"`
	DataDir   string    `mapstructure:"data_dir"`
	Log       Log       `mapstructure:"log"`
	Database  Database  `mapstructure:"database"`
	Auth      Auth      `mapstructure:"auth"`
	JWT       JWT       `mapstructure:"jwt"`
	Redis     Redis     `mapstructure:"redis"`
	Cache     Cache     `mapstructure:"cache"`
	RabbitMQ  RabbitMQ  `mapstructure:"rabbitmq"`
	Storage   Storage   `mapstructure:"storage"`
	Upload    Upload    `mapstructure:"upload"`
	Comments  Comments  `mapstructure:"comments"`
	Seed      Seed      `mapstructure:"seed"`
	RateLimit RateLimit `mapstructure:"ratelimit"`
	Tracing   Tracing   `mapstructure:"tracing"`
}

// Server is the HTTP side.
type Server struct {
	Addr                 string        `mapstructure:"addr"`
	PublicURL            string        `mapstructure:"public_url"`
	ReadHeaderTimeout    time.Duration `mapstructure:"read_header_timeout"`
	RequestTimeout       time.Duration `mapstructure:"request_timeout"`
	UploadTimeout        time.Duration `mapstructure:"upload_timeout"`
	IdleTimeout          time.Duration `mapstructure:"idle_timeout"`
	ShutdownTimeout      time.Duration `mapstructure:"shutdown_timeout"`
	MaxHeaderBytes       int           `mapstructure:"max_header_bytes"`
	MaxBodyBytes         int64         `mapstructure:"max_body_bytes"`
	MaxConcurrentUploads int           `mapstructure:"max_concurrent_uploads"`
	Metrics              bool          `mapstructure:"metrics"`
	MetricsAddr          string        `mapstructure:"metrics_addr"` // its own listener, never the API port
	PprofAddr            string        `mapstructure:"pprof_addr"`
	TrustedProxies       []string      `mapstructure:"trusted_proxies"`
}

// Log controls console and file logging.
type Log struct {
	Level      string `mapstructure:"level"`
	Format     string `mapstructure:"format"`
	File       string `mapstructure:"file"`
	MaxSizeMB  int    `mapstructure:"max_size_mb"`
	MaxBackups int    `mapstructure:"max_backups"`
	MaxAgeDays int    `mapstructure:"max_age_days"`
	// FlushInterval holds info and debug lines in a buffer for at most
	// this long, so that the access log costs no write per request; a
	// warning or error writes out the buffer at once. 0 writes every line
	// as it comes.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
}

// Database selects SQLite (embedded) or MySQL.
type Database struct {
	Driver          string        `mapstructure:"driver"`
	DSN             string        `mapstructure:"dsn"`
	MaxOpenConns    int           `mapstructure:"max_open_conns"`
	MaxIdleConns    int           `mapstructure:"max_idle_conns"`
	ConnMaxLifetime time.Duration `mapstructure:"conn_max_lifetime"`
	SlowQuery       time.Duration `mapstructure:"slow_query"`
	// IOTimeout bounds each read and write on a MySQL connection whose DSN
	// sets no readTimeout/writeTimeout of its own.
	IOTimeout time.Duration `mapstructure:"io_timeout"`
	// Replicas are read-only MySQL DSNs for the cacheable reads; writes,
	// transactions and read-your-write lookups stay on the primary.
	Replicas []string `mapstructure:"replicas"`
	// ReplicaMaxLag is how far behind the primary a replica may be and
	// still be read.
	ReplicaMaxLag time.Duration `mapstructure:"replica_max_lag"`
}

// Auth is how passwords are stored.
type Auth struct {
	BcryptCost int `mapstructure:"bcrypt_cost"`
}

// MinProductionBcryptCost is the lowest bcrypt cost outside mode test.
const MinProductionBcryptCost = 10

// JWT signs the session tokens.
type JWT struct {
	Secret string        `mapstructure:"secret"`
	Issuer string        `mapstructure:"issuer"`
	TTL    time.Duration `mapstructure:"ttl"`
}

// Redis is the cache; an empty Addr turns the cache off. Addr may list
// several comma-separated addresses: with MasterName they are Sentinels,
// without it a Cluster.
type Redis struct {
	Addr       string        `mapstructure:"addr"`
	Password   string        `mapstructure:"password"`
	DB         int           `mapstructure:"db"`
	MasterName string        `mapstructure:"master_name"`
	Prefix     string        `mapstructure:"prefix"`
	PoolSize   int           `mapstructure:"pool_size"`
	Timeout    time.Duration `mapstructure:"timeout"`
	TTL        time.Duration `mapstructure:"ttl"`
}

// Cache is the in-process layer in front of Redis (or, on the embedded
// default, in front of SQLite). LocalTTL 0 turns it off. RenderEntries
// bounds the memo of encoded videos, comments and users (each); 0 turns
// it off.
type Cache struct {
	LocalTTL      time.Duration `mapstructure:"local_ttl"`
	LocalEntries  int           `mapstructure:"local_entries"`
	RenderEntries int           `mapstructure:"render_entries"`
}

// Addrs splits Addr.
func (r Redis) Addrs() []string {
	var out []string
	for _, a := range strings.Split(r.Addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// RabbitMQ carries failed cache deletes; an empty URL retries in-process.
type RabbitMQ struct {
	URL    string `mapstructure:"url"`
	Queue  string `mapstructure:"queue"`
	Quorum bool   `mapstructure:"quorum"`
}

// Storage picks where media live.
type Storage struct {
	Backend string     `mapstructure:"backend"`
	Local   LocalStore `mapstructure:"local"`
	OSS     OSSStore   `mapstructure:"oss"`
}

// LocalStore keeps media on this machine's disk.
type LocalStore struct {
	Dir string `mapstructure:"dir"`
}

// OSSStore keeps media in an Aliyun OSS bucket.
type OSSStore struct {
	Endpoint    string `mapstructure:"endpoint"`
	Region      string `mapstructure:"region"` // e.g. cn-hangzhou, for V4 signatures
	Bucket      string `mapstructure:"bucket"`
	SignVersion string `mapstructure:"sign_version"` // v4, or v1 for old buckets (deprecated)
	// Credentials is where the keys come from: "key" (access_key_id and
	// access_key_secret), "env" (OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET,
	// OSS_SESSION_TOKEN) or "ecs_ram_role" (the instance's RAM role;
	// RAMRole names it, or the metadata service does).
	Credentials     string        `mapstructure:"credentials"`
	AccessKeyID     string        `mapstructure:"access_key_id"`
	AccessKeySecret string        `mapstructure:"access_key_secret"`
	RAMRole         string        `mapstructure:"ram_role"`
	Prefix          string        `mapstructure:"prefix"`
	PublicURL       string        `mapstructure:"public_url"`
	URLMode         string        `mapstructure:"url_mode"` // public, or signed for a private bucket
	URLLifetime     time.Duration `mapstructure:"url_lifetime"`
}

// Upload bounds what a publish may send.
type Upload struct {
	MaxBytes int64 `mapstructure:"max_bytes"`
	// UnauthenticatedBytes bounds the disk that all uploads together may
	// spool before their token is read (clients that send the file first).
	UnauthenticatedBytes int64 `mapstructure:"unauthenticated_bytes"`
	// QuotaVideos and QuotaBytes bound what one user may keep stored;
	// 0 is no limit.
	QuotaVideos  int64         `mapstructure:"quota_videos"`
	QuotaBytes   int64         `mapstructure:"quota_bytes"`
	FFmpeg       string        `mapstructure:"ffmpeg"`
	CoverTimeout time.Duration `mapstructure:"cover_timeout"`
}

// Comments: a comment repeated by its author on the same video within
// RepeatWindow is answered with the stored one; 0 stores every repeat.
type Comments struct {
	RepeatWindow time.Duration `mapstructure:"repeat_window"`
}

// Seed fills an empty embedded database with a demo user and video.
type Seed struct {
	Demo bool `mapstructure:"demo"`
}

// RateLimit bounds abuse; Enabled false switches every limit off.
type RateLimit struct {
	Enabled        bool `mapstructure:"enabled"`
	AuthPerMinute  int  `mapstructure:"auth_per_minute"`
	WritePerMin    int  `mapstructure:"write_per_minute"`
	PublishPerHour int  `mapstructure:"publish_per_hour"`
}

// Tracing exports OpenTelemetry spans over OTLP/HTTP; off by default.
type Tracing struct {
	Enabled     bool    `mapstructure:"enabled"`
	Endpoint    string  `mapstructure:"endpoint"` // collector base URL; spans go to its /v1/traces
	SampleRatio float64 `mapstructure:"sample_ratio"`
	ServiceName string  `mapstructure:"service_name"`
}

// SampleJWTSecret is the placeholder in the shipped full-stack example; a
// server outside the embedded default refuses to start with it.
const SampleJWTSecret = "change-me-to-32-or-more-random-characters"

// EnvName is the environment variable that overrides key.
func EnvName(key string) string {
	return "TIKTOK_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Load is LoadEnv with a getenv that cannot tell an empty variable from
// an unset one: an empty value there leaves the setting as it is.
func Load(path string, getenv func(string) string) (*Config, error) {
	return LoadEnv(path, func(k string) (string, bool) {
		v := getenv(k)
		return v, v != ""
	})
}

// LoadEnv reads the file at path (optional when path is empty and the
// default file is absent), applies the TIKTOK_* variables that lookup
// finds (os.LookupEnv), and validates the result. A variable set to the
// empty string sets its key to empty: TIKTOK_REDIS_ADDR= switches Redis
// off, whatever the file says.
func LoadEnv(path string, lookup func(string) (string, bool)) (*Config, error) {
	v := viper.New()
	for k, val := range defaults() {
		v.SetDefault(k, val)
	}
	if err := readFile(v, path); err != nil {
		return nil, err
	}
	// Reading the variables through getenv rather than viper.AutomaticEnv
	// keeps the process environment out of tests.
	for k := range defaults() {
		if val, ok := lookup(EnvName(k)); ok {
			v.Set(k, val)
		}
	}
	var cfg Config
	err := v.Unmarshal(&cfg, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			durationsNeedAUnit,
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		)
	})
	if err != nil {
		return nil, fmt.Errorf("config: %s", oneLine(err))
	}
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// durationsNeedAUnit refuses a bare number for a duration: YAML's 30 would
// otherwise become 30 nanoseconds. Zero needs none: 0 turns a setting off.
func durationsNeedAUnit(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(time.Duration(0)) {
		return data, nil
	}
	if s, ok := data.(string); ok && strings.TrimSpace(s) == "0" {
		return time.Duration(0), nil
	}
	switch v := reflect.ValueOf(data); {
	case v.CanInt() && v.Int() == 0, v.CanUint() && v.Uint() == 0, v.CanFloat() && v.Float() == 0:
		return time.Duration(0), nil
	}
	switch from.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return nil, fmt.Errorf("%v has no unit: write it as a duration such as 30s, 500ms or 10m", data)
	case reflect.String:
		if _, err := strconv.ParseFloat(strings.TrimSpace(data.(string)), 64); err == nil {
			return nil, fmt.Errorf("%q has no unit: write it as a duration such as 30s, 500ms or 10m", data)
		}
	}
	return data, nil
}

// DefaultPath is the embedded default, relative to the working directory.
const DefaultPath = ".config/config.yaml"

func readFile(v *viper.Viper, path string) error {
	explicit := path != ""
	if !explicit {
		path = DefaultPath
	}
	if _, err := os.Stat(path); err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return nil // built-in defaults are the embedded default
		}
		return fmt.Errorf("config: %s: %w", path, err)
	}
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}

// fill derives paths that default to places under the data directory.
func (c *Config) fill() error {
	if c.DataDir == "" {
		return errors.New("config: data_dir: must not be empty")
	}
	if c.Database.Driver == "sqlite" && c.Database.DSN == "" {
		c.Database.DSN = filepath.Join(c.DataDir, "tiktok.db")
	}
	if c.Storage.Local.Dir == "" {
		c.Storage.Local.Dir = filepath.Join(c.DataDir, "media")
	}
	// A relative log file lives under data_dir, so that data_dir alone
	// moves everything the server writes.
	if c.Log.File != "" && !filepath.IsAbs(c.Log.File) {
		c.Log.File = filepath.Join(c.DataDir, c.Log.File)
	}
	c.Server.PublicURL = strings.TrimRight(c.Server.PublicURL, "/")
	return nil
}

// PublicURLFor returns the configured public URL or, when none is set,
// one made from the address the server actually listens on.
func (c *Config) PublicURLFor(listening net.Addr) string {
	if c.Server.PublicURL != "" {
		return c.Server.PublicURL
	}
	host, port, err := net.SplitHostPort(listening.String())
	if err != nil {
		return "http://localhost"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Embedded reports whether this is the single-file embedded setup, the
// only one allowed to invent its own JWT secret.
func (c *Config) Embedded() bool { return c.Database.Driver == "sqlite" }

// Validate checks every key whose bad value would otherwise surface later
// as a confusing failure; each error names its key.
func (c *Config) Validate() error {
	var problems []string
	bad := func(key, format string, args ...any) {
		problems = append(problems, key+": "+fmt.Sprintf(format, args...))
	}
	if c.Server.Addr == "" {
		bad("server.addr", "must not be empty")
	}
	switch c.Mode {
	case "production", "test":
	default:
		bad("mode", "must be production or test, got %q", c.Mode)
	}
	switch cost := c.Auth.BcryptCost; {
	case cost < 4 || cost > 31:
		bad("auth.bcrypt_cost", "must be between 4 and 31, got %d", cost)
	case cost < MinProductionBcryptCost && c.Mode != "test":
		bad("auth.bcrypt_cost", "must be at least %d (lower costs are for tests, with mode: test), got %d", MinProductionBcryptCost, cost)
	}
	for _, f := range []struct{ key, val string }{
		{"server.public_url", c.Server.PublicURL}, {"database.dsn", c.Database.DSN}, {"rabbitmq.url", c.RabbitMQ.URL},
		{"storage.oss.public_url", c.Storage.OSS.PublicURL},
	} {
		for _, placeholder := range []string{"VM_IP", "CHANGE_ME"} {
			if strings.Contains(f.val, placeholder) {
				bad(f.key, "still holds the placeholder %s from the deploy guide: put in the real value", placeholder)
			}
		}
	}
	if c.Server.Metrics && c.Server.MetricsAddr == "" {
		bad("server.metrics_addr", "must be an address such as 127.0.0.1:9464 while server.metrics is true")
	}
	if u, err := url.Parse(c.Server.PublicURL); c.Server.PublicURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		bad("server.public_url", "must be an absolute http(s) URL the phones can reach, got %q", c.Server.PublicURL)
	}
	for _, d := range []struct {
		key string
		val time.Duration
	}{
		{"server.read_header_timeout", c.Server.ReadHeaderTimeout},
		{"server.request_timeout", c.Server.RequestTimeout},
		{"server.upload_timeout", c.Server.UploadTimeout},
		{"server.idle_timeout", c.Server.IdleTimeout},
		{"server.shutdown_timeout", c.Server.ShutdownTimeout},
		{"jwt.ttl", c.JWT.TTL},
		{"upload.cover_timeout", c.Upload.CoverTimeout},
		{"database.io_timeout", c.Database.IOTimeout},
		{"database.replica_max_lag", c.Database.ReplicaMaxLag},
	} {
		if d.val <= 0 {
			bad(d.key, "must be a positive duration such as 30s, got %s", d.val)
		}
	}
	for _, n := range []struct {
		key string
		val int64
	}{
		{"server.max_body_bytes", c.Server.MaxBodyBytes},
		{"server.max_header_bytes", int64(c.Server.MaxHeaderBytes)},
		{"server.max_concurrent_uploads", int64(c.Server.MaxConcurrentUploads)},
		{"database.max_open_conns", int64(c.Database.MaxOpenConns)},
		{"upload.max_bytes", c.Upload.MaxBytes},
		{"ratelimit.auth_per_minute", int64(c.RateLimit.AuthPerMinute)},
		{"ratelimit.write_per_minute", int64(c.RateLimit.WritePerMin)},
		{"ratelimit.publish_per_hour", int64(c.RateLimit.PublishPerHour)},
		{"upload.unauthenticated_bytes", c.Upload.UnauthenticatedBytes},
	} {
		if n.val <= 0 {
			bad(n.key, "must be a positive number, got %d", n.val)
		}
	}
	if c.Upload.QuotaVideos < 0 || c.Upload.QuotaBytes < 0 {
		bad("upload.quota_videos", "upload.quota_videos and upload.quota_bytes must be 0 (no limit) or positive")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Log.FlushInterval < 0 {
		bad("log.flush_interval", "must be 0 (write every line at once) or a positive duration")
	}
	switch c.Log.Format {
	case "console", "json":
	default:
		bad("log.format", "must be console or json, got %q", c.Log.Format)
	}
	switch c.Database.Driver {
	case "sqlite":
	case "mysql":
		if c.Database.DSN == "" {
			bad("database.dsn", "is required with the mysql driver")
		}
	default:
		bad("database.driver", "must be sqlite or mysql, got %q", c.Database.Driver)
	}
	if len(c.Database.Replicas) > 0 && c.Database.Driver != "mysql" {
		bad("database.replicas", "read replicas need the mysql driver")
	}
	if !c.Embedded() {
		switch {
		case c.JWT.Secret == "" || c.JWT.Secret == SampleJWTSecret:
			bad("jwt.secret", "set a random secret of at least 32 characters (the embedded default makes its own; this setup must not)")
		case len(c.JWT.Secret) < 32:
			bad("jwt.secret", "must be at least 32 characters")
		}
	}
	if c.Redis.Addr != "" && (c.Redis.Timeout <= 0 || c.Redis.TTL <= 0) {
		bad("redis.timeout", "redis.timeout and redis.ttl must be positive durations")
	}
	if c.Comments.RepeatWindow < 0 {
		bad("comments.repeat_window", "must be 0 (off) or a positive duration")
	}
	if c.Cache.LocalTTL < 0 {
		bad("cache.local_ttl", "must be 0 (off) or a positive duration")
	}
	if c.Cache.LocalEntries < 1 {
		bad("cache.local_entries", "must be at least 1")
	}
	if c.Cache.RenderEntries < 0 {
		bad("cache.render_entries", "must be 0 (off) or more")
	}
	if c.JWT.Issuer == "" {
		bad("jwt.issuer", "must not be empty")
	}
	switch c.Storage.Backend {
	case "local":
	case "oss":
		o := c.Storage.OSS
		required := [][2]string{{"storage.oss.endpoint", o.Endpoint}, {"storage.oss.bucket", o.Bucket}}
		switch o.SignVersion {
		case "v4":
			required = append(required, [2]string{"storage.oss.region", o.Region})
		case "v1":
		default:
			bad("storage.oss.sign_version", "must be v4 (or v1 for an old bucket that still accepts it), got %q", o.SignVersion)
		}
		switch o.Credentials {
		case "key":
			required = append(required, [2]string{"storage.oss.access_key_id", o.AccessKeyID}, [2]string{"storage.oss.access_key_secret", o.AccessKeySecret})
		case "env", "ecs_ram_role":
		default:
			bad("storage.oss.credentials", "must be key, env or ecs_ram_role, got %q", o.Credentials)
		}
		for _, f := range required {
			if f[1] == "" {
				bad(f[0], "is required with the oss backend")
			}
		}
		switch o.URLMode {
		case "public":
		case "signed":
			if o.SignVersion != "v4" {
				bad("storage.oss.url_mode", "signed URLs need storage.oss.sign_version v4")
			}
			if o.URLLifetime <= 0 || o.URLLifetime > 7*24*time.Hour {
				bad("storage.oss.url_lifetime", "must be a duration up to 168h (V4's limit), got %s", o.URLLifetime)
			}
		default:
			bad("storage.oss.url_mode", "must be public or signed, got %q", o.URLMode)
		}
	default:
		bad("storage.backend", "must be local or oss, got %q", c.Storage.Backend)
	}
	if u, err := url.Parse(c.Tracing.Endpoint); (c.Tracing.Enabled || c.Tracing.Endpoint != "") &&
		(err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		bad("tracing.endpoint", "must be an absolute http(s) URL of an OTLP/HTTP collector such as http://127.0.0.1:4318, got %q", c.Tracing.Endpoint)
	}
	if c.Tracing.SampleRatio < 0 || c.Tracing.SampleRatio > 1 {
		bad("tracing.sample_ratio", "must be between 0 and 1, got %v", c.Tracing.SampleRatio)
	}
	if c.Tracing.Enabled && strings.TrimSpace(c.Tracing.ServiceName) == "" {
		bad("tracing.service_name", "must not be empty when tracing is enabled")
	}
	if len(problems) > 0 {
		// One line, so a start-up failure reads at a glance in any log.
		return errors.New("config: " + strings.Join(problems, "; "))
	}
	return nil
}

// oneLine folds the decoder's multi-line report into one line.
func oneLine(err error) string {
	msg := strings.TrimPrefix(err.Error(), "decoding failed due to the following error(s):")
	var parts []string
	for _, line := range strings.Split(msg, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, "; ")
}
