package main

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/pkg/config"
	"github.com/tiktok-lite/server/pkg/tracing"
)

// tracingFlushTimeout bounds the export of the last spans at shutdown, so
// that an unreachable collector cannot hold the exit.
const tracingFlushTimeout = 5 * time.Second

// startTracing sets tracing up as configured. The provider is nil when
// tracing is off; the stop function exports what is left and logs a failure.
func startTracing(cfg *config.Config, log *zap.Logger) (trace.TracerProvider, func(), error) {
	tp, shutdown, err := tracing.Setup(cfg.Tracing, version, log)
	if err != nil {
		return nil, nil, err
	}
	if tp != nil {
		log.Info("tracing on", zap.String("endpoint", cfg.Tracing.Endpoint),
			zap.Float64("sample_ratio", cfg.Tracing.SampleRatio), zap.String("service", cfg.Tracing.ServiceName))
	}
	return tp, func() {
		ctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			log.Warn("flush traces", zap.Error(err))
		}
	}, nil
}
