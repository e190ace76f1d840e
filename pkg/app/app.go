package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/api"
	"github.com/tiktok-lite/server/controller"
	"github.com/tiktok-lite/server/middleware"
	"github.com/tiktok-lite/server/pkg/config"
	"github.com/tiktok-lite/server/pkg/media"
	"github.com/tiktok-lite/server/pkg/webui"
	"github.com/tiktok-lite/server/routes"
)

// Build names the running build, for the log and tiktok_build_info.
type Build struct {
	Version, Commit string
}

// App is the whole server: the Core behind the routes, listening.
type App struct {
	*Core
	ln        net.Listener
	srv       *http.Server
	publicURL string
	closers   []func() // the side listeners and the API listener
}

// New listens on cfg.Server.Addr and builds the server behind it. Listening
// first lets ":0" pick a port that the media URLs can then name. On an
// error, what was built is closed again.
func New(ctx context.Context, cfg *config.Config, b Build, p Parts) (_ *App, err error) {
	log := p.Log
	if log == nil {
		log = zap.NewNop()
	}
	log.Info("starting", zap.String("version", b.Version), zap.String("database", cfg.Database.Driver),
		zap.Bool("redis", cfg.Redis.Addr != ""), zap.Bool("rabbitmq", cfg.RabbitMQ.URL != ""),
		zap.String("storage", cfg.Storage.Backend))
	if cfg.Mode == "test" {
		log.Warn("mode test: settings that are only safe in tests are allowed", zap.Int("bcrypt_cost", cfg.Auth.BcryptCost))
	}
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return nil, fmt.Errorf("server.addr: %w", err)
	}
	a := &App{ln: ln, publicURL: cfg.PublicURLFor(ln.Addr())}
	a.closers = append(a.closers, func() { ln.Close() })
	defer func() {
		if err != nil {
			err = errors.Join(err, a.Close(context.Background()))
		}
	}()
	if p.Registry == nil {
		p.Registry = prometheus.NewRegistry()
		p.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if a.Core, err = NewCore(ctx, cfg, a.publicURL, p); err != nil {
		return nil, err
	}
	handler, err := a.routes(b, p)
	if err != nil {
		return nil, err
	}
	a.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       cfg.Server.RequestTimeout, // publish extends its own
		WriteTimeout:      cfg.Server.UploadTimeout,  // covers the slowest route, publish
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	stopPprof, err := startSide("server.pprof_addr", "pprof", cfg.Server.PprofAddr, pprofHandler(), log)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, stopPprof)
	metricsAddr := cfg.Server.MetricsAddr
	if !cfg.Server.Metrics {
		metricsAddr = ""
	}
	stopMetrics, err := startSide("server.metrics_addr", "metrics", metricsAddr,
		metricsHandler(promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{})), log)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, stopMetrics)
	return a, nil
}

// Addr is the address the API listens on.
func (a *App) Addr() net.Addr { return a.ln.Addr() }

// PublicURL is the base of the URLs the server hands out.
func (a *App) PublicURL() string { return a.publicURL }

// Run serves until ctx is done, then finishes the requests in flight
// within server.shutdown_timeout and closes everything.
func (a *App) Run(ctx context.Context) error {
	cfg, log := a.Config, a.Log
	log.Info("listening", zap.String("addr", a.ln.Addr().String()), zap.String("public_url", a.publicURL))
	log.Info("the web client is at "+a.publicURL+"/; change the port with TIKTOK_SERVER_ADDR (e.g. TIKTOK_SERVER_ADDR=:9090)",
		firstRunFields(cfg)...)
	// Whoever waits for the server to come up reads this line: write it
	// out now rather than with the next flush of the log buffer.
	if err := log.Sync(); err != nil {
		return errors.Join(fmt.Errorf("write the log: %w", err), a.Close(context.Background()))
	}
	served := make(chan error, 1)
	go func() { served <- a.srv.Serve(a.ln) }()
	select {
	case err := <-served:
		return errors.Join(err, a.Close(context.Background()))
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", zap.Duration("timeout", cfg.Server.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	err := a.srv.Shutdown(sctx)
	if err != nil {
		err = fmt.Errorf("shutdown: %w", err)
	} else if served := <-served; !errors.Is(served, http.ErrServerClosed) {
		err = served
	}
	// Requests are done; now the deletes they scheduled, then the retry
	// queue flushes what failed.
	if cerr := a.Close(sctx); cerr != nil {
		log.Error("close", zap.Error(cerr))
	}
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// Close stops the listeners, then closes the Core. Run calls it.
func (a *App) Close(ctx context.Context) error {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
	if a.Core == nil {
		return nil
	}
	return a.Core.Close(ctx)
}

// routes builds the controllers over the services and the router over them.
func (a *App) routes(b Build, p Parts) (http.Handler, error) {
	cfg, log, svc := a.Config, a.Log, a.Services
	authMW := middleware.NewAuth(a.Tokens, log)
	render := controller.NewRender(cfg.Cache.RenderEntries)
	limits := controller.UploadLimits{
		MaxBytes: cfg.Upload.MaxBytes, Timeout: cfg.Server.UploadTimeout,
		Concurrent: cfg.Server.MaxConcurrentUploads, TempDir: a.TempDir(), AnonBytes: cfg.Upload.UnauthenticatedBytes,
	}
	if cfg.RateLimit.Enabled {
		limits.PerUser = limiter(a.Redis, cfg.Redis.Prefix, "publish", cfg.RateLimit.PublishPerHour, time.Hour)
	}
	videoCtl, err := controller.NewVideo(svc.Videos, authMW, render, limits, log, a.Registry)
	if err != nil {
		return nil, err
	}
	health := controller.NewHealth(log, a.Checks...)
	spec, err := api.Handler(a.publicURL)
	if err != nil {
		return nil, err
	}
	deps := routes.Deps{
		Log:            log,
		TrustedProxies: cfg.Server.TrustedProxies,
		Tracing:        httpTracing(p.Tracer, cfg.Tracing.ServiceName),
		Auth:           authMW,
		MaxBodyBytes:   cfg.Server.MaxBodyBytes,
		RequestTimeout: cfg.Server.RequestTimeout,
		UploadTimeout:  cfg.Server.UploadTimeout,
		User:           controller.NewUser(svc.Users, render, log),
		Video:          videoCtl,
		Interaction:    controller.NewInteraction(svc.Interactions, render, log),
		Social:         controller.NewSocial(svc.Social, render, log),
		Health:         health,
		Media:          a.Media.Handler,
		Web:            webui.Handler(cfg.Upload.MaxBytes, a.publicURL, a.Media.Origin),
		Spec:           spec,
		Static: controller.NewStatic(map[string][]byte{
			"avatar.png": media.DefaultAvatar(), "background.png": media.DefaultBackground(), "cover.jpg": media.DefaultCover(),
		}),
	}
	if cfg.RateLimit.Enabled {
		rl := cfg.RateLimit
		deps.AuthLimit = limiter(a.Redis, cfg.Redis.Prefix, "auth", rl.AuthPerMinute, time.Minute)
		deps.WriteLimit = limiter(a.Redis, cfg.Redis.Prefix, "write", rl.WritePerMin, time.Minute)
	}
	if cfg.Server.Metrics {
		if deps.Metrics, err = middleware.NewHTTPMetrics(a.Registry); err != nil {
			return nil, err
		}
		a.Registry.MustRegister(health, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tiktok_build_info", Help: "Always 1; the labels say which build is running.",
			ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Commit, "goversion": runtime.Version()},
		}, func() float64 { return 1 }))
	}
	return routes.New(deps)
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
