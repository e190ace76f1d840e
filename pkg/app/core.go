// Package app is the composition root: it builds every part of the server
// from its configuration, in dependency order, and takes it down again in
// the reverse order. The command and the tests that need the whole
// service graph build it here, so the graph is written out once.
//
// Core is the graph without HTTP (database, cache, media, services); App
// adds the listener, the routes and the side listeners.
package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"github.com/tiktok-lite/server/cache"
	"github.com/tiktok-lite/server/controller"
	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/auth"
	"github.com/tiktok-lite/server/pkg/config"
	"github.com/tiktok-lite/server/pkg/media"
	"github.com/tiktok-lite/server/pkg/mq"
	"github.com/tiktok-lite/server/pkg/redisguard"
	"github.com/tiktok-lite/server/service"
)

// Parts are what the caller hands in rather than have built from the
// configuration. Every field is optional; tests use them to watch or
// steer a part (count the SQL, hold a Redis command).
type Parts struct {
	Log      *zap.Logger          // nil: no logging
	Tracer   trace.TracerProvider // nil: no tracing
	Registry *prometheus.Registry // nil: a new one
	// DB is an open, migrated database; nil opens and migrates
	// cfg.Database. Close closes only what it opened.
	DB *gorm.DB
	// Redis is a client for cfg.Redis; nil makes one when cfg.Redis.Addr
	// is set. Close closes only what it made.
	Redis redis.UniversalClient
	// Cache and Broker adjust the options built from the configuration.
	Cache  func(*cache.Options)
	Broker func(*mq.Config)
	// WrapStore wraps the store the services write through.
	WrapStore func(service.Store) service.Store
}

// Core is the service graph over the configured database, cache and media.
type Core struct {
	Config   *config.Config
	Log      *zap.Logger
	Registry *prometheus.Registry
	DB       *gorm.DB
	Store    *model.Store
	// Reads and Inv are the top of the read and invalidation stacks
	// (buildCache); Cache and Local are their Redis and in-process
	// layers, nil when not stacked.
	Reads    service.Reads
	Inv      service.Invalidator
	Cache    *cache.Redis
	Local    *cache.Local
	Redis    redis.UniversalClient // nil without Redis
	Broker   *mq.Broker            // nil without RabbitMQ
	Media    *Media
	Tokens   *auth.Tokens
	Services *service.Services
	// Checks are what /readyz asks: the database, and Redis and RabbitMQ
	// when configured.
	Checks []controller.Check

	closers []func(context.Context) error // in the order built
}

// NewCore builds the graph; publicURL is the base of the media URLs the
// services hand out. On an error, what was built is closed again.
func NewCore(ctx context.Context, cfg *config.Config, publicURL string, p Parts) (_ *Core, err error) {
	c := &Core{Config: cfg, Log: p.Log, Registry: p.Registry}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close(context.Background()))
		}
	}()
	if err := c.openDB(p); err != nil {
		return nil, err
	}
	if err := c.buildCache(p); err != nil {
		return nil, err
	}
	if c.Media, err = OpenMedia(cfg, publicURL, c.Log); err != nil {
		return nil, err
	}
	if err := c.buildServices(publicURL, p); err != nil {
		return nil, err
	}
	if cfg.Seed.Demo {
		seeded, err := service.SeedDemo(ctx, c.Store, c.Services.Users, c.Services.Videos, media.SampleVideo(), c.TempDir())
		if err != nil {
			return nil, err
		}
		if seeded {
			c.Log.Info("seeded the demo user and sample video", zap.String("user", service.DemoUserName))
		}
	}
	return c, nil
}

// TempDir is where uploads are written before they are stored.
func (c *Core) TempDir() string { return filepath.Join(c.Config.DataDir, "tmp") }

// onClose runs fn at Close, after whatever is built later has closed.
func (c *Core) onClose(fn func(context.Context) error) { c.closers = append(c.closers, fn) }

// Close waits for the cache's scheduled deletes (bounded by ctx), then
// stops the retry path, and closes Redis and the database, in that order.
func (c *Core) Close(ctx context.Context) error {
	var errs []error
	for i := len(c.closers) - 1; i >= 0; i-- {
		errs = append(errs, c.closers[i](ctx))
	}
	c.closers = nil
	return errors.Join(errs...)
}

func (c *Core) openDB(p Parts) error {
	c.DB = p.DB
	if c.DB == nil {
		db, err := model.Open(c.Config.Database, c.Log, dbTracing(p.Tracer)...)
		if err != nil {
			return err
		}
		c.onClose(func(context.Context) error { return model.Close(db) })
		if err := model.Migrate(db); err != nil {
			return err
		}
		c.DB = db
	}
	sqlDB, err := c.DB.DB()
	if err != nil {
		return err
	}
	if err := c.Registry.Register(collectors.NewDBStatsCollector(sqlDB, "tiktok")); err != nil {
		return err
	}
	c.Store = model.NewStore(c.DB)
	c.Checks = append(c.Checks, controller.Check{Name: "database", Ping: func(ctx context.Context) error { return model.Ready(ctx, c.DB) }})
	if len(c.Config.Database.Replicas) > 0 {
		c.Checks = append(c.Checks, controller.Check{Name: "replicas", Degrades: true, Ping: func(context.Context) error { return model.ReplicasReady(c.DB) }})
	}
	return nil
}

func (c *Core) buildServices(publicURL string, p Parts) error {
	cfg := c.Config
	secret := cfg.JWT.Secret
	if secret == "" && cfg.Embedded() {
		var err error
		if secret, err = auth.LoadOrCreateSecret(cfg.DataDir); err != nil {
			return err
		}
	}
	tokens, err := auth.NewTokens(secret, cfg.JWT.Issuer, cfg.JWT.TTL)
	if err != nil {
		return err
	}
	c.Tokens = tokens
	var covers service.CoverMaker
	if m := media.NewCovers(cfg.Upload.FFmpeg, cfg.Upload.CoverTimeout); m.Available() {
		covers = m
	} else {
		c.Log.Info("ffmpeg not found: new videos get the default cover")
	}
	var writes service.Store = c.Store
	if p.WrapStore != nil {
		writes = p.WrapStore(c.Store)
	}
	c.Services, err = service.New(service.Deps{
		Store: writes, Reads: c.Reads, Inv: c.Inv,
		Presenter: service.NewPresenter(c.Media, publicURL, time.Local), Media: c.Media, Covers: covers, Sniff: media.SniffType,
		Quota:        service.Quota{Videos: cfg.Upload.QuotaVideos, Bytes: cfg.Upload.QuotaBytes},
		RepeatWindow: cfg.Comments.RepeatWindow, Tokens: tokens, Passwords: auth.NewPasswords(cfg.Auth.BcryptCost), Log: c.Log,
	})
	return err
}

// buildCache stacks the read and invalidation paths the configuration
// asks for:
//
//	no Redis, cache.local_ttl 0 or not SQLite   the store alone
//	no Redis, SQLite, cache.local_ttl           Local → Store
//	Redis, cache.local_ttl 0                    Redis → Store
//	Redis, cache.local_ttl                      Local → Redis → Store
//
// The Redis layer's failed deletes are retried through RabbitMQ when that
// is configured and in process otherwise.
func (c *Core) buildCache(p Parts) error {
	cfg := c.Config
	keys := cache.NewKeys(cfg.Redis.Prefix)
	c.Reads, c.Inv = c.Store, keys
	local := cache.LocalOptions{Prefix: cfg.Redis.Prefix, TTL: cfg.Cache.LocalTTL, Entries: cfg.Cache.LocalEntries}
	if cfg.Redis.Addr == "" && p.Redis == nil {
		if cfg.RabbitMQ.URL != "" {
			c.Log.Warn("rabbitmq.url is set but redis.addr is not: there is no cache to invalidate, RabbitMQ is not used")
		}
		// Without Redis there is no way to tell other instances what went
		// stale, so an in-process cache is safe only where no other process
		// writes: SQLite in data_dir.
		if cfg.Database.Driver != "sqlite" || local.TTL == 0 {
			return nil
		}
		bottom, err := cache.NewStore(c.Store, 0, c.Registry)
		if err != nil {
			return err
		}
		return c.stackLocal(bottom, keys, nil, local)
	}
	bottom, err := cache.NewStore(c.Store, 0, c.Registry)
	if err != nil {
		return err
	}
	if err := c.stackRedis(bottom, p); err != nil {
		return err
	}
	if local.TTL == 0 {
		return nil
	}
	return c.stackLocal(c.Cache, c.Cache, c.Cache, local)
}

// stackLocal puts the in-process layer on top of the stacks.
func (c *Core) stackLocal(next cache.Source, inv cache.Invalidation, feed cache.Feed, opt cache.LocalOptions) error {
	l, err := cache.NewLocal(next, inv, feed, c.Registry, opt)
	if err != nil {
		return err
	}
	c.Local, c.Reads, c.Inv = l, l, l
	return nil
}

// stackRedis puts the Redis layer, with its retry path, on next.
func (c *Core) stackRedis(next cache.Source, p Parts) error {
	cfg := c.Config
	if err := c.openRedis(p); err != nil {
		return err
	}
	opts := c.cacheOptions(p)
	downFor := opts.DownFor
	if downFor <= 0 {
		downFor = time.Second
	}
	opts.Guard = redisguard.New(downFor, c.Log.Named("redis"), redisguard.ReloadClusterSlots(c.Redis))
	c.Redis.AddHook(opts.Guard)
	if err := redisTracing(c.Redis, p.Tracer); err != nil {
		return err
	}
	// Ready means the cache works, not only that Redis answers PING: the
	// check reads the way a page does (see cache.Redis.Ping).
	c.Checks = append(c.Checks, controller.Check{Name: "redis", Ping: func(ctx context.Context) error { return c.Cache.Ping(ctx) }})
	bg, cancel := context.WithCancel(context.Background())
	if cfg.RabbitMQ.URL == "" {
		local, err := cache.NewLocalRetrier(10000, 8, c.Log, c.Registry)
		if err != nil {
			cancel()
			return err
		}
		// The retrier stops after the cache's last deletes: its closer is
		// registered first. It is handed nothing before the cache exists.
		done := make(chan struct{})
		go func() {
			local.Run(bg, func(ctx context.Context, body []byte) error { return c.Cache.HandleRetry(ctx, body) })
			close(done)
		}()
		c.onClose(func(context.Context) error { cancel(); <-done; return nil })
		return c.newRedisLayer(next, local, opts)
	}
	mc := mq.Config{URL: cfg.RabbitMQ.URL, Name: cfg.RabbitMQ.Queue, Quorum: cfg.RabbitMQ.Quorum}
	if p.Broker != nil {
		p.Broker(&mc)
	}
	broker, err := mq.New(mc, c.Log, c.Registry)
	if err != nil {
		cancel()
		return fmt.Errorf("rabbitmq: %w", err)
	}
	ran := make(chan struct{})
	go func() {
		if err := broker.Run(bg); err != nil {
			c.Log.Error("rabbitmq connection manager stopped", zap.Error(err))
		}
		close(ran)
	}()
	c.onClose(func(ctx context.Context) error {
		cancel()
		<-ran
		ctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer stop()
		if err := broker.Close(ctx); err != nil {
			return fmt.Errorf("rabbitmq close: %w", err)
		}
		return nil
	})
	c.Broker = broker
	if err := c.newRedisLayer(next, broker, opts); err != nil {
		return err
	}
	c.Checks = append(c.Checks, controller.Check{Name: "rabbitmq", Ping: broker.Ping})
	broker.Consume(bg, c.Cache.HandleRetry)
	return nil
}

// newRedisLayer builds the Redis layer on next and has Close wait for its
// scheduled deletes before the retry path behind it stops.
func (c *Core) newRedisLayer(next cache.Source, retrier cache.Retrier, opts cache.Options) error {
	r, err := cache.NewRedis(next, c.Store, c.Redis, retrier, c.Log, c.Registry, opts)
	if err != nil {
		return err
	}
	c.Cache, c.Reads, c.Inv = r, r, r
	c.onClose(func(ctx context.Context) error { return r.Close(ctx) })
	return nil
}

// cacheOptions are the cache's settings from the configuration, adjusted
// by p.Cache.
func (c *Core) cacheOptions(p Parts) cache.Options {
	cfg := c.Config
	opts := cache.Options{Prefix: cfg.Redis.Prefix, TTL: cfg.Redis.TTL}
	if p.Cache != nil {
		p.Cache(&opts)
	}
	return opts
}

func (c *Core) openRedis(p Parts) error {
	if p.Redis != nil {
		c.Redis = p.Redis
		return nil
	}
	cfg := c.Config.Redis
	rdb, topology, err := cache.NewRedisClient(context.Background(), &redis.UniversalOptions{
		Addrs: cfg.Addrs(), MasterName: cfg.MasterName,
		Password: cfg.Password, DB: cfg.DB, PoolSize: cfg.PoolSize,
		// Short time-outs: a slow Redis must fall back to the database
		// quickly rather than hold every request. No retries and no longer
		// wait for a pooled connection than for an answer, so that one call
		// costs at most one time-out; the guard then skips Redis for a while.
		DialTimeout: cfg.Timeout, ReadTimeout: cfg.Timeout, WriteTimeout: cfg.Timeout,
		PoolTimeout: cfg.Timeout, MaxRetries: -1,
	})
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	c.onClose(func(context.Context) error { return rdb.Close() })
	c.Redis = rdb
	c.Log.Info("redis", zap.Strings("addr", cfg.Addrs()), zap.String("topology", string(topology)))
	if topology == cache.Unknown {
		c.Log.Warn("redis did not answer at start: its topology was guessed from the number of addresses; /readyz reports a wrong guess")
	}
	return nil
}
