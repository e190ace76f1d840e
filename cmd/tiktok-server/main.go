// Command tiktok-server serves the minimal Douyin API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/api"
	"github.com/tiktok-lite/server/cache"
	"github.com/tiktok-lite/server/controller"
	"github.com/tiktok-lite/server/middleware"
	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/auth"
	"github.com/tiktok-lite/server/pkg/config"
	"github.com/tiktok-lite/server/pkg/logger"
	"github.com/tiktok-lite/server/pkg/media"
	"github.com/tiktok-lite/server/pkg/mq"
	"github.com/tiktok-lite/server/pkg/redisguard"
	"github.com/tiktok-lite/server/pkg/storage"
	"github.com/tiktok-lite/server/pkg/webui"
	"github.com/tiktok-lite/server/routes"
	"github.com/tiktok-lite/server/service"
)

// Set at build time by make release.
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tiktok-server:", err)
		os.Exit(1)
	}
}

// buildVersion is the version and commit set by make build or make
// release, or else what the Go toolchain recorded of the checkout it built
// from (go build and go run in a git work tree).
func buildVersion() (string, string) {
	v, c := version, commit
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v, c
	}
	if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	if c == "unknown" {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				c = s.Value[:7]
			}
		}
	}
	return v, c
}

func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout io.Writer) error {
	if len(args) > 0 {
		sub, ok := map[string]func(context.Context, []string, io.Writer) error{
			"transfer": runTransfer, "backup": runBackup, "restore": runRestore, "healthcheck": runHealthcheck,
		}[args[0]]
		if ok {
			if err := sub(ctx, args[1:], stdout); !errors.Is(err, flag.ErrHelp) {
				return err
			}
			return nil
		}
	}
	fs := flag.NewFlagSet("tiktok-server", flag.ContinueOnError)
	fs.SetOutput(stdout)
	configPath := fs.String("config", "", "path of the YAML configuration (default "+config.DefaultPath+" when present)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintln(stdout, `usage: tiktok-server [--config FILE]   serve the API
       tiktok-server transfer --config SOURCE.yaml --to TARGET.yaml [--resume]
                                        copy every row and media object to another install, verified
       tiktok-server backup --config FILE --out BACKUP.tar.gz
                                        a consistent archive while the server runs
       tiktok-server restore --config FILE --in BACKUP.tar.gz
                                        into an empty data directory
       tiktok-server healthcheck [--config FILE]
                                        exit 0 when this host's server answers /healthz
Each subcommand takes --help. Every setting is also a TIKTOK_* variable: the table of
keys, defaults and variables is in docs/operations.md, section Configuration.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unknown argument %q: see tiktok-server --help", fs.Arg(0))
	}
	if *showVersion {
		v, c := buildVersion()
		fmt.Fprintf(stdout, "tiktok-server %s (commit %s)\n", v, c)
		return nil
	}
	cfg, err := config.LoadEnv(*configPath, lookupEnv)
	if err != nil {
		return err
	}
	log, closeLog, err := logger.New(cfg.Log, stdout)
	if err != nil {
		return err
	}
	defer func() {
		if err := closeLog(); err != nil {
			fmt.Fprintln(stdout, "close log:", err)
		}
	}()
	tp, stopTracing, err := startTracing(cfg, log)
	if err != nil {
		return err
	}
	defer stopTracing() // after serve: exports the spans of the drain too
	if err := serve(ctx, cfg, log, tp); err != nil {
		log.Error("server stopped", zap.Error(err))
		return err
	}
	return nil
}

// serve builds every part in dependency order, serves until ctx is done,
// then drains in-flight requests.
func serve(ctx context.Context, cfg *config.Config, log *zap.Logger, tp trace.TracerProvider) error {
	log.Info("starting", zap.String("version", version), zap.String("database", cfg.Database.Driver),
		zap.Bool("redis", cfg.Redis.Addr != ""), zap.Bool("rabbitmq", cfg.RabbitMQ.URL != ""),
		zap.String("storage", cfg.Storage.Backend))
	if cfg.Mode == "test" {
		log.Warn("mode test: settings that are only safe in tests are allowed", zap.Int("bcrypt_cost", cfg.Auth.BcryptCost))
	}

	db, err := model.Open(cfg.Database, log, dbTracing(tp)...)
	if err != nil {
		return err
	}
	defer func() {
		if err := model.Close(db); err != nil {
			log.Warn("close database", zap.Error(err))
		}
	}()
	if err := model.Migrate(db); err != nil {
		return err
	}

	// Listening before the rest is built lets ":0" pick a port that the
	// media URLs can then name.
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("server.addr: %w", err)
	}
	defer ln.Close()
	publicURL := cfg.PublicURLFor(ln.Addr())

	secret := cfg.JWT.Secret
	if secret == "" && cfg.Embedded() {
		if secret, err = auth.LoadOrCreateSecret(cfg.DataDir); err != nil {
			return err
		}
	}
	tokens, err := auth.NewTokens(secret, cfg.JWT.Issuer, cfg.JWT.TTL)
	if err != nil {
		return err
	}
	passwords := auth.NewPasswords(cfg.Auth.BcryptCost)

	files, err := openMedia(cfg, publicURL, log)
	if err != nil {
		return err
	}
	var covers service.CoverMaker
	if c := media.NewCovers(cfg.Upload.FFmpeg, cfg.Upload.CoverTimeout); c.Available() {
		covers = c
	} else {
		log.Info("ffmpeg not found: new videos get the default cover")
	}

	reg := prometheus.NewRegistry()
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(sqlDB, "tiktok"))

	store := model.NewStore(db)
	checks := []controller.Check{{Name: "database", Ping: func(ctx context.Context) error { return model.Ready(ctx, db) }}}
	if len(cfg.Database.Replicas) > 0 {
		checks = append(checks, controller.Check{Name: "replicas", Degrades: true, Ping: func(context.Context) error { return model.ReplicasReady(db) }})
	}
	cacheLayer, stopCache, err := buildCache(cfg, store, log, reg, tp)
	if err != nil {
		return err
	}
	defer stopCache()
	checks = append(checks, cacheLayer.checks...)
	svc, err := service.New(service.Deps{
		Store: store, Reads: cacheLayer.Cache, Inv: cacheLayer.Cache,
		Presenter: service.NewPresenter(files, publicURL, time.Local), Media: files, Covers: covers, Sniff: media.SniffType,
		Quota:        service.Quota{Videos: cfg.Upload.QuotaVideos, Bytes: cfg.Upload.QuotaBytes},
		RepeatWindow: cfg.Comments.RepeatWindow, Tokens: tokens, Passwords: passwords, Log: log,
	})
	if err != nil {
		return err
	}

	tmpDir := filepath.Join(cfg.DataDir, "tmp")
	if cfg.Seed.Demo {
		seeded, err := service.SeedDemo(ctx, store, svc.Users, svc.Videos, media.SampleVideo(), tmpDir)
		if err != nil {
			return err
		}
		if seeded {
			log.Info("seeded the demo user and sample video", zap.String("user", service.DemoUserName))
		}
	}

	authMW := middleware.NewAuth(tokens, log)
	render := controller.NewRender(cfg.Cache.RenderEntries)
	limits := controller.UploadLimits{
		MaxBytes: cfg.Upload.MaxBytes, Timeout: cfg.Server.UploadTimeout,
		Concurrent: cfg.Server.MaxConcurrentUploads, TempDir: tmpDir, AnonBytes: cfg.Upload.UnauthenticatedBytes,
	}
	if cfg.RateLimit.Enabled {
		limits.PerUser = limiter(cacheLayer.rdb, cfg.Redis.Prefix, "publish", cfg.RateLimit.PublishPerHour, time.Hour)
	}
	videoCtl, err := controller.NewVideo(svc.Videos, authMW, render, limits, log, reg)
	if err != nil {
		return err
	}
	health := controller.NewHealth(log, checks...)
	spec, err := api.Handler(publicURL)
	if err != nil {
		return err
	}
	deps := routes.Deps{
		Log:            log,
		TrustedProxies: cfg.Server.TrustedProxies,
		Tracing:        httpTracing(tp, cfg.Tracing.ServiceName),
		Auth:           authMW,
		MaxBodyBytes:   cfg.Server.MaxBodyBytes,
		RequestTimeout: cfg.Server.RequestTimeout,
		UploadTimeout:  cfg.Server.UploadTimeout,
		User:           controller.NewUser(svc.Users, render, log),
		Video:          videoCtl,
		Interaction:    controller.NewInteraction(svc.Interactions, render, log),
		Social:         controller.NewSocial(svc.Social, render, log),
		Health:         health,
		Media:          files.handler,
		Web:            webui.Handler(cfg.Upload.MaxBytes, publicURL, files.origin),
		Spec:           spec,
		Static: controller.NewStatic(map[string][]byte{
			"avatar.png": media.DefaultAvatar(), "background.png": media.DefaultBackground(), "cover.jpg": media.DefaultCover(),
		}),
	}
	if cfg.RateLimit.Enabled {
		rl := cfg.RateLimit
		deps.AuthLimit = limiter(cacheLayer.rdb, cfg.Redis.Prefix, "auth", rl.AuthPerMinute, time.Minute)
		deps.WriteLimit = limiter(cacheLayer.rdb, cfg.Redis.Prefix, "write", rl.WritePerMin, time.Minute)
	}
	if cfg.Server.Metrics {
		if deps.Metrics, err = middleware.NewHTTPMetrics(reg); err != nil {
			return err
		}
		v, c := buildVersion()
		reg.MustRegister(health, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tiktok_build_info", Help: "Always 1; the labels say which build is running.",
			ConstLabels: prometheus.Labels{"version": v, "revision": c, "goversion": runtime.Version()},
		}, func() float64 { return 1 }))
	}

	engine, err := routes.New(deps)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           engine,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       cfg.Server.RequestTimeout, // publish extends its own
		WriteTimeout:      cfg.Server.UploadTimeout,  // covers the slowest route, publish
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	stopPprof, err := startSide("server.pprof_addr", "pprof", cfg.Server.PprofAddr, pprofHandler(), log)
	if err != nil {
		return err
	}
	defer stopPprof()
	metricsAddr := cfg.Server.MetricsAddr
	if !cfg.Server.Metrics {
		metricsAddr = ""
	}
	stopMetrics, err := startSide("server.metrics_addr", "metrics", metricsAddr,
		metricsHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})), log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	log.Info("listening", zap.String("addr", ln.Addr().String()), zap.String("public_url", publicURL))
	log.Info("the web client is at "+publicURL+"/; change the port with TIKTOK_SERVER_ADDR (e.g. TIKTOK_SERVER_ADDR=:9090)",
		firstRunFields(cfg)...)
	// Whoever waits for the server to come up reads this line: write it
	// out now rather than with the next flush of the log buffer.
	if err := log.Sync(); err != nil {
		return fmt.Errorf("write the log: %w", err)
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", zap.Duration("timeout", cfg.Server.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// Requests are done; now the deletes they scheduled, then the retry
	// queue (stopCache, deferred above) flushes what failed.
	if err := cacheLayer.Close(sctx); err != nil {
		log.Error("pending cache deletes", zap.Error(err))
	}
	log.Info("stopped")
	return nil
}

// mediaStore is the configured media backend with what the routes need.
type mediaStore struct {
	mediaBackend
	handler http.Handler // serves local media under /media/; nil for OSS
	origin  string       // where clients fetch media from
}

// mediaBackend is what the services and a transfer use of a backend.
type mediaBackend interface {
	service.MediaStore
	service.Media
}

// openMedia builds the configured media backend; publicURL is the base of
// local media URLs.
func openMedia(cfg *config.Config, publicURL string, log *zap.Logger) (*mediaStore, error) {
	if cfg.Storage.Backend == "oss" {
		o, err := newOSS(cfg.Storage.OSS, log)
		if err != nil {
			return nil, fmt.Errorf("storage.oss: %w", err)
		}
		return &mediaStore{mediaBackend: o, origin: o.Origin()}, nil
	}
	local, err := storage.NewLocal(cfg.Storage.Local.Dir, publicURL)
	if err != nil {
		return nil, fmt.Errorf("storage.local: %w", err)
	}
	return &mediaStore{mediaBackend: local, handler: local.Handler(), origin: publicURL}, nil
}

// newOSS builds the OSS backend with its credentials.
func newOSS(o config.OSSStore, log *zap.Logger) (*storage.OSS, error) {
	sc := storage.OSSConfig{Endpoint: o.Endpoint, Region: o.Region, Bucket: o.Bucket, SignVersion: o.SignVersion,
		Prefix: o.Prefix, PublicURL: o.PublicURL, URLMode: o.URLMode, URLLifetime: o.URLLifetime,
		OnSignError: func(err error) { log.Error("could not sign media URLs, serving public ones", zap.Error(err)) }}
	if o.Credentials == "key" {
		sc.AccessKeyID, sc.AccessKeySecret = o.AccessKeyID, o.AccessKeySecret
	} else {
		p, err := storage.OSSCredentials(o.Credentials, o.RAMRole)
		if err != nil {
			return nil, err
		}
		sc.Provider = p
	}
	return storage.NewOSS(sc)
}

// firstRunFields say where this server keeps what it made, for whoever
// just typed make run.
func firstRunFields(cfg *config.Config) []zap.Field {
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	fields := []zap.Field{zap.String("data_dir", abs(cfg.DataDir))}
	if cfg.Embedded() {
		fields = append(fields, zap.String("database", abs(cfg.Database.DSN)))
	}
	if cfg.Storage.Backend == "local" {
		fields = append(fields, zap.String("media", abs(cfg.Storage.Local.Dir)))
	}
	if cfg.JWT.Secret == "" {
		fields = append(fields, zap.String("jwt_secret", abs(filepath.Join(cfg.DataDir, "jwt.secret"))))
	}
	if cfg.Log.File != "" {
		fields = append(fields, zap.String("log_file", abs(cfg.Log.File)))
	}
	return fields
}

// limiter allows n requests per period per key: in Redis, so that the
// limit holds across every instance, falling back to this process's own
// count while Redis cannot answer; in process alone without Redis.
func limiter(rdb redis.UniversalClient, prefix, name string, n int, per time.Duration) middleware.RateLimiter {
	local := middleware.NewLimiter(n, per)
	if rdb == nil {
		return local
	}
	return middleware.NewFallback(middleware.NewRedisLimiter(rdb, prefix+"rl:"+name+":", n, per), local)
}

// builtCache is the read layer with what it needs at shutdown and in /readyz.
type builtCache struct {
	*cache.Cache
	rdb    redis.UniversalClient // nil without Redis
	checks []controller.Check
}

// buildCache returns the Redis cache when Redis is configured, with its
// failed deletes retried through RabbitMQ when that is configured and in
// process otherwise; without Redis, a pass-through. The returned stop
// function ends the retrier and flushes what it still holds.
func buildCache(cfg *config.Config, store *model.Store, log *zap.Logger, reg prometheus.Registerer, tp trace.TracerProvider) (*builtCache, func(), error) {
	if cfg.Redis.Addr == "" {
		if cfg.RabbitMQ.URL != "" {
			log.Warn("rabbitmq.url is set but redis.addr is not: there is no cache to invalidate, RabbitMQ is not used")
		}
		// Without Redis there is no way to tell other instances what went
		// stale, so an in-process cache is safe only where no other process
		// writes: SQLite in data_dir.
		if cfg.Database.Driver != "sqlite" || cfg.Cache.LocalTTL == 0 {
			return &builtCache{Cache: cache.NewPassThrough(store)}, func() {}, nil
		}
		c, err := cache.NewInProcess(store, reg, cache.Options{LocalTTL: cfg.Cache.LocalTTL, LocalEntries: cfg.Cache.LocalEntries})
		if err != nil {
			return nil, nil, err
		}
		return &builtCache{Cache: c}, func() {}, nil
	}
	rdb, topology, err := cache.NewRedisClient(context.Background(), &redis.UniversalOptions{
		Addrs: cfg.Redis.Addrs(), MasterName: cfg.Redis.MasterName,
		Password: cfg.Redis.Password, DB: cfg.Redis.DB, PoolSize: cfg.Redis.PoolSize,
		// Short time-outs: a slow Redis must fall back to the database
		// quickly rather than hold every request. No retries and no longer
		// wait for a pooled connection than for an answer, so that one call
		// costs at most one time-out; the guard then skips Redis for a while.
		DialTimeout: cfg.Redis.Timeout, ReadTimeout: cfg.Redis.Timeout, WriteTimeout: cfg.Redis.Timeout,
		PoolTimeout: cfg.Redis.Timeout, MaxRetries: -1,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("redis: %w", err)
	}
	log.Info("redis", zap.Strings("addr", cfg.Redis.Addrs()), zap.String("topology", string(topology)))
	if topology == cache.Unknown {
		log.Warn("redis did not answer at start: its topology was guessed from the number of addresses; /readyz reports a wrong guess")
	}
	guard := redisguard.New(time.Second, log.Named("redis"), redisguard.ReloadClusterSlots(rdb))
	rdb.AddHook(guard)
	if err := redisTracing(rdb, tp); err != nil {
		return nil, nil, errors.Join(err, rdb.Close())
	}
	// Ready means the cache works, not only that Redis answers PING: the
	// check reads the way a page does (see cache.Ping).
	out := &builtCache{rdb: rdb}
	out.checks = []controller.Check{{Name: "redis", Ping: func(ctx context.Context) error { return out.Cache.Ping(ctx) }}}
	bg, cancel := context.WithCancel(context.Background())
	opts := cache.Options{Prefix: cfg.Redis.Prefix, TTL: cfg.Redis.TTL, LocalTTL: cfg.Cache.LocalTTL, LocalEntries: cfg.Cache.LocalEntries, Guard: guard}

	if cfg.RabbitMQ.URL == "" {
		local, err := cache.NewLocalRetrier(10000, 8, log, reg)
		if err != nil {
			cancel()
			return nil, nil, err
		}
		if out.Cache, err = cache.New(store, rdb, local, log, reg, opts); err != nil {
			cancel()
			return nil, nil, err
		}
		done := make(chan struct{})
		go func() { local.Run(bg, out.HandleRetry); close(done) }()
		return out, func() {
			cancel()
			<-done
			if err := rdb.Close(); err != nil {
				log.Warn("close redis", zap.Error(err))
			}
		}, nil
	}

	broker, err := mq.New(mq.Config{URL: cfg.RabbitMQ.URL, Name: cfg.RabbitMQ.Queue, Quorum: cfg.RabbitMQ.Quorum}, log, reg)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("rabbitmq: %w", err)
	}
	if out.Cache, err = cache.New(store, rdb, broker, log, reg, opts); err != nil {
		cancel()
		return nil, nil, err
	}
	out.checks = append(out.checks, controller.Check{Name: "rabbitmq", Ping: broker.Ping})
	ran := make(chan struct{})
	go func() {
		if err := broker.Run(bg); err != nil {
			log.Error("rabbitmq connection manager stopped", zap.Error(err))
		}
		close(ran)
	}()
	broker.Consume(bg, out.HandleRetry)
	return out, func() {
		cancel()
		<-ran
		ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		if err := broker.Close(ctx); err != nil {
			log.Error("rabbitmq close", zap.Error(err))
		}
		if err := rdb.Close(); err != nil {
			log.Warn("close redis", zap.Error(err))
		}
	}, nil
}
