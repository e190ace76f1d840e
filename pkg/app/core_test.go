package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tiktok-lite/server/cache"
	"github.com/tiktok-lite/server/pkg/app"
	"github.com/tiktok-lite/server/pkg/config"
	"github.com/tiktok-lite/server/test/testenv"
)

// TestTheConfigurationStacksTheLayers: each configuration gets the read
// and invalidation stack docs/architecture.md lists for it, and nothing
// else; in particular no in-process layer without Redis on a database
// another process may write.
func TestTheConfigurationStacksTheLayers(t *testing.T) {
	redisAddr, amqpURL := testenv.RedisAddr(t), testenv.AMQPURL(t)
	tests := []struct {
		name       string
		db         func(t testing.TB) config.Database
		redis      bool
		localTTL   time.Duration
		reads, inv string
	}{
		{"sqlite, no layer", testenv.SQLiteConfig, false, 0, "*model.Store", "cache.Keys"},
		{"embedded default", testenv.SQLiteConfig, false, 30 * time.Second, "*cache.Local → *cache.Store", "*cache.Local → cache.Keys"},
		{"mysql without redis", testenv.MySQLConfig, false, 30 * time.Second, "*model.Store", "cache.Keys"},
		{"redis alone", testenv.MySQLConfig, true, 0, "*cache.Redis → *cache.Store", "*cache.Redis"},
		{"redis and in process", testenv.MySQLConfig, true, 30 * time.Second, "*cache.Local → *cache.Redis → *cache.Store", "*cache.Local → *cache.Redis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testenv.AppConfig(t, tt.db(t))
			cfg.Cache.LocalTTL = tt.localTTL
			if tt.redis {
				cfg.Redis.Addr, cfg.Redis.Prefix = redisAddr, "stack:"+testenv.RandomSuffix()+":"
				cfg.RabbitMQ.URL, cfg.RabbitMQ.Queue = amqpURL, "test.stack."+testenv.RandomSuffix()
			}
			core, err := app.NewCore(context.Background(), cfg, "http://server.test", app.Parts{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := core.Close(context.Background()); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			if got := readStack(core.Reads); got != tt.reads {
				t.Errorf("reads: %s, want %s", got, tt.reads)
			}
			if got := invStack(core.Inv); got != tt.inv {
				t.Errorf("invalidation: %s, want %s", got, tt.inv)
			}
		})
	}
}

// readStack names the layers of a read path, top first.
func readStack(top any) string {
	s := fmt.Sprintf("%T", top)
	switch l := top.(type) {
	case *cache.Local:
		return s + " → " + readStack(l.Next())
	case *cache.Redis:
		return s + " → " + readStack(l.Next())
	}
	return s
}

// invStack names the layers of an invalidation path, top first.
func invStack(top any) string {
	s := fmt.Sprintf("%T", top)
	if l, ok := top.(*cache.Local); ok {
		return s + " → " + invStack(l.Invalidation)
	}
	return s
}
