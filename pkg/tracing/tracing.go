// Package tracing sets up OpenTelemetry tracing: spans sampled by ratio,
// batched and exported over OTLP/HTTP, with the W3C trace context
// propagated between processes.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/pkg/config"
)

// exportTimeout bounds one export request to the collector.
const exportTimeout = 10 * time.Second

// Setup builds the tracer provider that cfg describes and installs it, with
// the W3C trace-context propagator, as the process-wide default: the
// instrumentation libraries and pkg/mq take them from there. version is the
// service.version of every span.
//
// With tracing off it installs nothing and returns a nil provider and a
// shutdown that does nothing. Otherwise shutdown ends the provider,
// exporting the spans it still holds, within ctx.
func Setup(cfg config.Tracing, version string, log *zap.Logger) (trace.TracerProvider, func(context.Context) error, error) {
	if !cfg.Enabled {
		return nil, func(context.Context) error { return nil }, nil
	}
	endpoint, err := TracesURL(cfg.Endpoint)
	if err != nil {
		return nil, nil, err
	}
	// Creating the exporter does not connect: a collector that is down only
	// costs the spans exported while it is.
	exporter, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(endpoint),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression),
		otlptracehttp.WithTimeout(exportTimeout),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: exporter: %w", err)
	}
	res, err := resource.New(context.Background(),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithAttributes(semconv.ServiceName(cfg.ServiceName), semconv.ServiceVersion(version)),
	)
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("tracing: resource: %w", err), exporter.Shutdown(context.Background()))
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(res),
		// A caller that sent a sampled traceparent keeps its trace whole.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	named := log.Named("tracing")
	// Export failures surface here; without a handler they would go to
	// stderr in another format.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { named.Warn("tracing error", zap.Error(err)) }))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return tp, func(ctx context.Context) error {
		if err := tp.Shutdown(ctx); err != nil {
			return fmt.Errorf("tracing: shutdown: %w", err)
		}
		return nil
	}, nil
}

// TracesURL is the OTLP/HTTP traces URL of the collector at endpoint: its
// /v1/traces, unless endpoint names that path already.
func TracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("tracing: endpoint must be an absolute http(s) URL, got %q", endpoint)
	}
	if !strings.HasSuffix(u.Path, "/v1/traces") {
		u.Path = strings.TrimRight(u.Path, "/") + "/v1/traces"
	}
	return u.String(), nil
}
