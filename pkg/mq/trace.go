package mq

import (
	"context"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The process-wide tracer and propagator are used, so that tracing stays a
// matter of configuration: until one is installed both do nothing.
const tracerName = "github.com/tiktok-lite/server/pkg/mq"

// headerCarrier lets a propagator read and write the trace context in AMQP
// message headers.
type headerCarrier amqp.Table

func (h headerCarrier) Get(key string) string {
	s, ok := h[key].(string)
	if !ok {
		return ""
	}
	return s
}

func (h headerCarrier) Set(key, value string) { h[key] = value }

func (h headerCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

var _ propagation.TextMapCarrier = headerCarrier{}

// traceHeaders carries the trace context of ctx into headers; nil when
// there is none to carry, so that messages stay as they were without
// tracing.
func traceHeaders(ctx context.Context, headers amqp.Table) amqp.Table {
	c := headerCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, c)
	if len(c) == 0 {
		return headers
	}
	if headers == nil {
		headers = amqp.Table{}
	}
	for k, v := range c {
		headers[k] = v
	}
	return headers
}

// startSpan starts a messaging span on the queue named name.
func startSpan(ctx context.Context, name, operation string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	attrs = append(attrs,
		attribute.String("messaging.system", "rabbitmq"),
		attribute.String("messaging.operation.name", operation),
		attribute.String("messaging.destination.name", name),
	)
	return otel.Tracer(tracerName).Start(ctx, name+" "+operation, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// endSpan ends span with err as its status.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// deliveryContext returns ctx with the trace context that d carries as
// the remote parent.
func deliveryContext(ctx context.Context, d amqp.Delivery) context.Context {
	if len(d.Headers) == 0 {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, headerCarrier(d.Headers))
}
