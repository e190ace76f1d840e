package tracing

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/tiktok-lite/server/pkg/config"
)

func TestTracesURL(t *testing.T) {
	tests := []struct {
		endpoint, want string
		wantErr        bool
	}{
		{endpoint: "http://127.0.0.1:4318", want: "http://127.0.0.1:4318/v1/traces"},
		{endpoint: "http://127.0.0.1:4318/", want: "http://127.0.0.1:4318/v1/traces"},
		{endpoint: "https://otel.example.com/otlp", want: "https://otel.example.com/otlp/v1/traces"},
		{endpoint: "http://collector:4318/v1/traces", want: "http://collector:4318/v1/traces"},
		{endpoint: "127.0.0.1:4318", wantErr: true},
		{endpoint: "grpc://127.0.0.1:4317", wantErr: true},
		{endpoint: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := TracesURL(tt.endpoint)
		if (err != nil) != tt.wantErr {
			t.Errorf("TracesURL(%q) error = %v, want error %v", tt.endpoint, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("TracesURL(%q) = %q, want %q", tt.endpoint, got, tt.want)
		}
	}
}

func TestSetupOffInstallsNothing(t *testing.T) {
	before := otel.GetTracerProvider()
	tp, shutdown, err := Setup(config.Tracing{Enabled: false, Endpoint: "http://127.0.0.1:1"}, "v", zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if tp != nil {
		t.Errorf("provider with tracing off: got %T, want nil", tp)
	}
	if got := otel.GetTracerProvider(); got != before {
		t.Errorf("global provider changed to %T with tracing off", got)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// TestSetupExports sends one span to a local OTLP/HTTP receiver and checks
// what arrives: the path, the compression, the span and the resource.
func TestSetupExports(t *testing.T) {
	var mu sync.Mutex
	var got []*coltracepb.ExportTraceServiceRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("export to %s as %q, want /v1/traces as application/x-protobuf", r.URL.Path, r.Header.Get("Content-Type"))
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Errorf("gzip: %v", err)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			t.Errorf("read export: %v", err)
			return
		}
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(raw, req); err != nil {
			t.Errorf("decode export: %v", err)
			return
		}
		mu.Lock()
		got = append(got, req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) // the test's logger ends with it
	})

	tp, shutdown, err := Setup(config.Tracing{Enabled: true, Endpoint: srv.URL, SampleRatio: 1, ServiceName: "svc-test"}, "1.2.3", zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if otel.GetTracerProvider() != tp {
		t.Errorf("global provider: got %T, want the one returned", otel.GetTracerProvider())
	}
	if fields := otel.GetTextMapPropagator().Fields(); len(fields) == 0 || fields[0] != "traceparent" {
		t.Errorf("global propagator fields: got %v, want traceparent first", fields)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "probe")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	var names []string
	attrs := map[string]string{}
	for _, req := range got {
		for _, rs := range req.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					names = append(names, s.GetName())
				}
			}
		}
	}
	if strings.Join(names, ",") != "probe" {
		t.Errorf("exported spans: got %v, want [probe]", names)
	}
	for k, want := range map[string]string{"service.name": "svc-test", "service.version": "1.2.3"} {
		if attrs[k] != want {
			t.Errorf("resource %s: got %q, want %q", k, attrs[k], want)
		}
	}
}
