package mq

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap/zaptest"
)

// recordSpans installs a recording tracer provider and the W3C propagator
// as the process-wide ones for the test, and puts no-ops back after it.
func recordSpans(t *testing.T) *tracetest.SpanRecorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		// the untouched defaults cannot be set again; no-ops behave as they did
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
		if err := tp.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown tracer provider: %v", err)
		}
	})
	return rec
}

// TestTraceContextCrossesTheBroker publishes inside a span and checks that
// the handler runs in the same trace, under a consumer span whose parent is
// the publish span, both when the message goes straight out and when it
// waits in the buffer for the connection.
func TestTraceContextCrossesTheBroker(t *testing.T) {
	brokerURL := amqpURL(t)
	tests := []struct {
		name     string
		buffered bool // publish before Run has connected
	}{
		{"direct", false},
		{"buffered", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := recordSpans(t)
			cfg := testConfig(t, brokerURL)
			b, err := New(cfg, zaptest.NewLogger(t), prometheus.NewRegistry())
			if err != nil {
				t.Fatalf("new: %v", err)
			}
			runCtx, stopRun := context.WithCancel(context.Background())
			ran := make(chan error, 1)
			started := false
			run := func() {
				started = true
				go func() { ran <- b.Run(runCtx) }()
			}
			t.Cleanup(func() {
				stopRun()
				if started {
					select {
					case err := <-ran:
						if err != nil {
							t.Errorf("run: %v", err)
						}
					case <-time.After(waitLimit):
						t.Errorf("run did not return")
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := b.Close(ctx); err != nil {
					t.Errorf("close: %v", err)
				}
			})

			got := make(chan trace.SpanContext, 1)
			b.Consume(runCtx, func(ctx context.Context, body []byte) error {
				if string(body) == "traced" {
					got <- trace.SpanContextFromContext(ctx)
				}
				return nil
			})

			ctx, parent := otel.Tracer("test").Start(context.Background(), "request")
			if !tt.buffered {
				run()
				waitFor(t, "connection", func() bool { return b.Ping(context.Background()) == nil })
			}
			if err := b.Publish(ctx, []byte("traced")); err != nil {
				t.Fatalf("publish: %v", err)
			}
			parent.End()
			if tt.buffered {
				if got := b.Pending(); got != 1 {
					t.Fatalf("pending before Run: got %d, want 1", got)
				}
				run()
			}

			var handled trace.SpanContext
			select {
			case handled = <-got:
			case <-time.After(waitLimit):
				t.Fatalf("handler not called within %s", waitLimit)
			}
			want := parent.SpanContext().TraceID()
			if handled.TraceID() != want {
				t.Errorf("handler trace id: got %s, want %s", handled.TraceID(), want)
			}

			// the consumer span ends after the ack, a moment after the handler
			var publish, process sdktrace.ReadOnlySpan
			waitFor(t, "publish and process spans", func() bool {
				publish, process = nil, nil
				for _, s := range rec.Ended() {
					switch s.Name() {
					case cfg.Name + " publish":
						publish = s
					case cfg.Name + " process":
						process = s
					}
				}
				return publish != nil && process != nil
			})
			checks := []struct {
				what      string
				got, want any
			}{
				{"publish span kind", publish.SpanKind(), trace.SpanKindProducer},
				{"publish span parent", publish.Parent().SpanID(), parent.SpanContext().SpanID()},
				{"process span kind", process.SpanKind(), trace.SpanKindConsumer},
				{"process span trace", process.SpanContext().TraceID(), want},
				{"process span parent", process.Parent().SpanID(), publish.SpanContext().SpanID()},
				{"process span parent is remote", process.Parent().IsRemote(), true},
				{"handler span", handled.SpanID(), process.SpanContext().SpanID()},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
				}
			}
		})
	}
}

// TestNoTraceHeadersWithoutTracing checks that messages get no headers
// of ours when there is no trace context to carry: no propagator installed
// (tracing off), or no span in ctx.
func TestNoTraceHeadersWithoutTracing(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled})
	tests := []struct {
		name       string
		propagator propagation.TextMapPropagator
		ctx        context.Context
	}{
		{"no propagator", propagation.NewCompositeTextMapPropagator(), trace.ContextWithSpanContext(context.Background(), sc)},
		{"no span", propagation.TraceContext{}, context.Background()},
	}
	t.Cleanup(func() { otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator()) })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			otel.SetTextMapPropagator(tt.propagator)
			if got := traceHeaders(tt.ctx, nil); got != nil {
				t.Errorf("headers: got %v, want nil", got)
			}
		})
	}
	// and the check itself can fail: with both, the header is there
	otel.SetTextMapPropagator(propagation.TraceContext{})
	if got := traceHeaders(trace.ContextWithSpanContext(context.Background(), sc), nil); got["traceparent"] == nil {
		t.Errorf("headers with a span and a propagator: got %v, want a traceparent", got)
	}
}
