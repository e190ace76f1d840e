package config

import (
	"fmt"
	"strings"
)

// Key is one configuration key, declared once: its default, its
// environment variable (EnvName) and the configuration table of
// docs/operations.md all come from this declaration.
type Key struct {
	Name    string
	Default any
	// Shown is the default as the docs show it when the real default is
	// derived at start (from data_dir, the listening port, PATH).
	Shown string
	Doc   string
}

// Keys is every key the server reads, in the order the docs list them.
var Keys = []Key{
	{Name: "mode", Default: "production", Doc: "`production`, or `test` to allow settings that are only safe in tests (an `auth.bcrypt_cost` below 10)"},
	{Name: "server.addr", Default: ":8080", Doc: "listen address (`127.0.0.1:0` picks a free port)"},
	{Name: "server.public_url", Default: "", Shown: "`http://localhost:<port>`", Doc: "base of `play_url`, `cover_url` and default images: an address the phones can reach (behind a load balancer, the balancer's address)"},
	{Name: "server.trusted_proxies", Default: []string{"127.0.0.1", "::1"}, Doc: "proxies whose `X-Forwarded-For` is believed (rate limits key on the client address)"},
	{Name: "server.read_header_timeout", Default: "5s", Doc: "time to send the request headers"},
	{Name: "server.request_timeout", Default: "30s", Doc: "deadline of every request but publish (read time-out and context deadline)"},
	{Name: "server.upload_timeout", Default: "10m", Doc: "deadline of publish, from the moment its token is checked"},
	{Name: "server.idle_timeout", Default: "120s", Doc: "keep-alive idle time"},
	{Name: "server.shutdown_timeout", Default: "15s", Doc: "drain time on SIGTERM"},
	{Name: "server.max_header_bytes", Default: 16 << 10, Doc: "request header limit"},
	{Name: "server.max_body_bytes", Default: 1 << 20, Doc: "body limit of every route but publish"},
	{Name: "server.max_concurrent_uploads", Default: 8, Doc: "logged-in uploads at once; more get the too-many-requests code (an upload takes its slot only once its token is checked)"},
	{Name: "server.metrics", Default: true, Doc: "serve Prometheus metrics at `/metrics` on `server.metrics_addr`"},
	{Name: "server.metrics_addr", Default: "127.0.0.1:9464", Doc: "the metrics listener, never the API port; `:9464` to let a Prometheus on another host scrape it (firewall it)"},
	{Name: "server.pprof_addr", Default: "", Doc: "a separate listener for Go's `net/http/pprof` profiles, e.g. `127.0.0.1:6060`; empty is off; keep it on a loopback or private address"},
	{Name: "data_dir", Default: "./data", Doc: "every file the server keeps unless a key below moves it: the SQLite file, local media, temporary uploads, the generated JWT secret and a relative `log.file`"},
	{Name: "log.level", Default: "info", Doc: "`debug`, `info`, `warn` or `error`"},
	{Name: "log.format", Default: "console", Doc: "stdout as `console` (for people) or `json`"},
	{Name: "log.file", Default: "", Doc: "JSON log file, rotated by lumberjack; a relative path is under `data_dir` (the shipped file names `logs/server.log`); empty: stdout only"},
	{Name: "log.max_size_mb", Default: 100, Doc: "size at which the log file is rotated"},
	{Name: "log.max_backups", Default: 5, Doc: "rotated log files kept"},
	{Name: "log.max_age_days", Default: 30, Doc: "days a rotated log file is kept"},
	{Name: "log.flush_interval", Default: "1s", Doc: "info and debug lines (the access log) wait in a 256 KB buffer for at most this long, so a request costs no write of its own; a warning or error writes the buffer out at once, and shutdown writes out the rest. `0` writes every line as it comes"},
	{Name: "database.driver", Default: "sqlite", Doc: "`sqlite` or `mysql`"},
	{Name: "database.dsn", Default: "", Shown: "`<data_dir>/tiktok.db`", Doc: "SQLite path, or a MySQL DSN `user:pass@tcp(host:3306)/tiktok?charset=utf8mb4&parseTime=true&loc=UTC`"},
	{Name: "database.max_open_conns", Default: 50, Doc: "connections open at most"},
	{Name: "database.max_idle_conns", Default: 50, Doc: "idle connections kept"},
	{Name: "database.conn_max_lifetime", Default: "30m", Doc: "a connection is replaced after this long"},
	{Name: "database.slow_query", Default: "200ms", Doc: "statements slower than this are logged (without their values)"},
	{Name: "database.io_timeout", Default: "30s", Doc: "MySQL: `readTimeout`/`writeTimeout` of every connection whose DSN sets none (and a 5 s dial `timeout`), so a database that goes silent cannot hold a connection for TCP's many minutes; raise it for a migration that rewrites a huge table"},
	{Name: "database.replicas", Default: []string{}, Doc: "read-only MySQL DSNs (see [Scaling out](#scaling-out))"},
	{Name: "database.replica_max_lag", Default: "1s", Doc: "a replica further behind the primary than this, or down, takes no reads until it catches up (they go to the primary; `/readyz` says `degraded`)"},
	{Name: "auth.bcrypt_cost", Default: 10, Doc: "bcrypt cost of stored passwords (10 is about 50 ms a hash on a small VM); below 10 only with `mode: test`"},
	{Name: "jwt.secret", Default: "", Doc: "HS256 key; required (32+ characters, not the sample) outside the embedded default, which creates and keeps its own in `data_dir/jwt.secret`"},
	{Name: "jwt.issuer", Default: "tiktok-lite", Doc: "token issuer"},
	{Name: "jwt.ttl", Default: "168h", Doc: "token lifetime"},
	{Name: "redis.addr", Default: "", Doc: "empty: no cache. Comma-separated addresses: Sentinels with `redis.master_name`; else the server says whether they are Cluster nodes (one node's address is enough); several plain servers are refused"},
	{Name: "redis.password", Default: "", Doc: "Redis password"},
	{Name: "redis.db", Default: 0, Doc: "Redis database number (plain Redis only)"},
	{Name: "redis.master_name", Default: "", Doc: "the Sentinel master's name; `redis.addr` then lists the Sentinels"},
	{Name: "redis.prefix", Default: "tiktok:", Doc: "prefix of every key"},
	{Name: "redis.pool_size", Default: 0, Shown: "`0` (10 per CPU)", Doc: "connections per Redis node"},
	{Name: "redis.timeout", Default: "500ms", Doc: "dial/read/write time-out and the longest wait for a pooled connection, with no retries; after a call fails for want of Redis every call fails at once for a second (`pkg/redisguard`), so a request waits for one time-out at most and falls back to the database"},
	{Name: "redis.ttl", Default: "10m", Doc: "lifetime of cached values (plus up to 20 % jitter)"},
	{Name: "cache.local_ttl", Default: "30s", Doc: "the [in-process layer](architecture.md#the-in-process-layer) in front of Redis (and, on the embedded default, in front of SQLite): the longest it keeps a value; invalidation keeps it fresh, this only bounds memory and the damage of a lost message. `0` turns it off"},
	{Name: "cache.local_entries", Default: 65536, Doc: "entries the in-process layer holds at most"},
	{Name: "cache.render_entries", Default: 16384, Doc: "the [memo of encoded items](architecture.md#answers-written-from-a-memo): videos, comments and users it holds at most, each; `0` encodes every item afresh"},
	{Name: "rabbitmq.url", Default: "", Doc: "empty: failed cache deletes are retried in process"},
	{Name: "rabbitmq.queue", Default: "tiktok.cache.delete", Doc: "base name of the exchange and queues the server declares"},
	{Name: "rabbitmq.quorum", Default: false, Doc: "quorum queues (on a RabbitMQ cluster)"},
	{Name: "storage.backend", Default: "local", Doc: "`local` or `oss`"},
	{Name: "storage.local.dir", Default: "", Shown: "`<data_dir>/media`", Doc: "where local media live"},
	{Name: "storage.oss.endpoint", Default: "", Doc: "Aliyun OSS endpoint, e.g. `oss-cn-hangzhou.aliyuncs.com` (see [Aliyun OSS](#aliyun-oss))"},
	{Name: "storage.oss.region", Default: "", Doc: "the bucket's region ID, e.g. `cn-hangzhou`: required, V4 signatures carry it"},
	{Name: "storage.oss.bucket", Default: "", Doc: "the bucket's name"},
	{Name: "storage.oss.sign_version", Default: "v4", Doc: "`v1` only for an old bucket that still accepts it (deprecated: OSS no longer offers V1 to new accounts and buckets)"},
	{Name: "storage.oss.credentials", Default: "key", Doc: "`key`: `access_key_id` and `access_key_secret`; `env`: `OSS_ACCESS_KEY_ID`, `OSS_ACCESS_KEY_SECRET` and, for temporary keys, `OSS_SESSION_TOKEN`; `ecs_ram_role`: the ECS instance's RAM role (`ram_role` names it, or the metadata service does), refreshed before it expires"},
	{Name: "storage.oss.access_key_id", Default: "", Doc: "with `credentials: key`"},
	{Name: "storage.oss.access_key_secret", Default: "", Doc: "with `credentials: key`"},
	{Name: "storage.oss.ram_role", Default: "", Doc: "with `credentials: ecs_ram_role`; empty asks the metadata service"},
	{Name: "storage.oss.prefix", Default: "", Doc: "prefix of every object key"},
	{Name: "storage.oss.public_url", Default: "", Shown: "`https://<bucket>.<endpoint>`", Doc: "CDN or bucket domain for the returned URLs"},
	{Name: "storage.oss.url_mode", Default: "public", Doc: "`public`: `public_url` + key (a public bucket or CDN); `signed`: every `play_url` and `cover_url` is a V4 presigned GET URL valid for `url_lifetime`, for a private bucket"},
	{Name: "storage.oss.url_lifetime", Default: "24h", Doc: "lifetime of signed URLs, at most `168h`"},
	{Name: "upload.max_bytes", Default: 100 << 20, Doc: "largest video (100 MiB)"},
	{Name: "upload.unauthenticated_bytes", Default: 128 << 20, Doc: "disk that all uploads together may spool before their token is read (clients that send the file before the token field); past it such uploads get 42901"},
	{Name: "upload.quota_videos", Default: 1000, Doc: "most videos one user may keep published; `0` is no limit; over it is 42901 naming the quota"},
	{Name: "upload.quota_bytes", Default: 10 << 30, Doc: "most bytes one user may keep published (10 GiB); `0` is no limit"},
	{Name: "upload.ffmpeg", Default: "", Shown: "`ffmpeg` on PATH", Doc: "ffmpeg for covers and to refuse files with no decodable video; without it the default cover is used and uploads are judged by their first bytes alone"},
	{Name: "upload.cover_timeout", Default: "10s", Doc: "longest ffmpeg may take over one cover"},
	{Name: "comments.repeat_window", Default: "1m", Doc: "a comment its author repeats on the same video within this time is answered with the stored one, not stored twice (the retry of a client that got no answer); `0` stores every repeat"},
	{Name: "seed.demo", Default: true, Doc: "on an empty database (SQLite or MySQL), create a demo user and sample video"},
	{Name: "ratelimit.enabled", Default: true, Doc: "`false` switches every limit off (load tests)"},
	{Name: "ratelimit.auth_per_minute", Default: 20, Doc: "register + login per client IP"},
	{Name: "ratelimit.write_per_minute", Default: 120, Doc: "likes, comments, follows, messages per user"},
	{Name: "ratelimit.publish_per_hour", Default: 30, Doc: "uploads per user"},
	{Name: "tracing.enabled", Default: false, Doc: "OpenTelemetry over OTLP/HTTP (see [Tracing](#tracing-opentelemetry))"},
	{Name: "tracing.endpoint", Default: "http://127.0.0.1:4318", Doc: "the collector's base URL; spans go to its `/v1/traces`"},
	{Name: "tracing.sample_ratio", Default: 1.0, Doc: "share of requests traced, 0 to 1"},
	{Name: "tracing.service_name", Default: "tiktok-server", Doc: "the service name spans carry"},
}

// defaults maps every key to its default; viper takes it as the list of
// keys that environment variables may set.
func defaults() map[string]any {
	m := make(map[string]any, len(Keys))
	for _, k := range Keys {
		m[k.Name] = k.Default
	}
	return m
}

// MarkdownTable is the configuration table of docs/operations.md, made from Keys.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| key | default | meaning |\n|---|---|---|\n")
	for _, k := range Keys {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", k.Name, k.shown(), k.Doc)
	}
	return b.String()
}

func (k Key) shown() string {
	if k.Shown != "" {
		return k.Shown
	}
	switch v := k.Default.(type) {
	case string:
		if v == "" {
			return `""`
		}
		return "`" + v + "`"
	case []string:
		if len(v) == 0 {
			return "`[]`"
		}
		return "`" + strings.Join(v, ", ") + "`"
	case float64:
		return fmt.Sprintf("`%.1f`", v)
	default:
		return fmt.Sprintf("`%v`", v)
	}
}
