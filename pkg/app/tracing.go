package app

import (
	"fmt"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
	gormtracing "gorm.io/plugin/opentelemetry/tracing"
)

// dbTracing is the GORM plugin that makes a span of every statement, with
// the SQL but not its bound values, which may be personal data; none when
// tp is nil.
func dbTracing(tp trace.TracerProvider) []gorm.Plugin {
	if tp == nil {
		return nil
	}
	return []gorm.Plugin{gormtracing.NewPlugin(gormtracing.WithTracerProvider(tp),
		gormtracing.WithoutQueryVariables(), gormtracing.WithoutMetrics())}
}

// redisTracing makes a span of every Redis command or pipeline, naming the
// commands but not their arguments (cached values are personal data); it
// does nothing when tp is nil.
func redisTracing(rdb redis.UniversalClient, tp trace.TracerProvider) error {
	if tp == nil {
		return nil
	}
	if err := redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(tp), redisotel.WithDBStatement(false)); err != nil {
		return fmt.Errorf("redis tracing: %w", err)
	}
	return nil
}

// httpTracing starts a server span for every request but the probes and
// scrapes, continuing a trace the caller sent; nil when tp is nil.
func httpTracing(tp trace.TracerProvider, service string) gin.HandlerFunc {
	if tp == nil {
		return nil
	}
	return otelgin.Middleware(service, otelgin.WithTracerProvider(tp),
		otelgin.WithGinFilter(func(c *gin.Context) bool {
			switch c.Request.URL.Path {
			case "/healthz", "/readyz":
				return false
			}
			return true
		}))
}
