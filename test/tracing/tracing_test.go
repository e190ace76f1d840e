// Package tracing_test runs the real binary with tracing on against a local
// OTLP/HTTP receiver and follows one request through HTTP, SQL and Redis.
package tracing_test

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/tiktok-lite/server/pkg/media"
	"github.com/tiktok-lite/server/pkg/mq"
	"github.com/tiktok-lite/server/test/testenv"
)

// binary is built once for the whole package by TestMain.
var binary string

func TestMain(m *testing.M) { testenv.RunWithServer(m, &binary) }

// span is one received span, flattened with what it is judged by.
type span struct {
	traceID, spanID, parentID string
	name, scope               string
	kind                      tracepb.Span_SpanKind
	attrs                     map[string]string
	resource                  map[string]string
}

// receiver is an OTLP/HTTP trace receiver: it decodes every export
// request and keeps the spans.
type receiver struct {
	t       *testing.T
	url     string
	mu      sync.Mutex
	spans   []span
	exports int
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{t: t}
	srv := httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(srv.Close)
	rc.url = srv.URL
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		rc.t.Errorf("export %s %s, want POST /v1/traces", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			rc.t.Errorf("export: gzip: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer zr.Close()
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		rc.t.Errorf("export: read: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(raw, req); err != nil {
		rc.t.Errorf("export: decode: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var got []span
	for _, rs := range req.GetResourceSpans() {
		res := attrMap(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				got = append(got, span{
					traceID: hex.EncodeToString(s.GetTraceId()), spanID: hex.EncodeToString(s.GetSpanId()),
					parentID: hex.EncodeToString(s.GetParentSpanId()), name: s.GetName(), scope: ss.GetScope().GetName(),
					kind: s.GetKind(), attrs: attrMap(s.GetAttributes()), resource: res,
				})
			}
		}
	}
	rc.mu.Lock()
	rc.spans = append(rc.spans, got...)
	rc.exports++
	rc.mu.Unlock()
	resp, err := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	if err != nil {
		rc.t.Errorf("export: encode response: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	if _, err := w.Write(resp); err != nil {
		rc.t.Errorf("export: write response: %v", err)
	}
}

func (rc *receiver) received() ([]span, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]span(nil), rc.spans...), rc.exports
}

// attrMap keeps every scalar attribute as text.
func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			out[kv.GetKey()] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			out[kv.GetKey()] = strconv.FormatInt(v.IntValue, 10)
		case *commonpb.AnyValue_BoolValue:
			out[kv.GetKey()] = strconv.FormatBool(v.BoolValue)
		case *commonpb.AnyValue_DoubleValue:
			out[kv.GetKey()] = strconv.FormatFloat(v.DoubleValue, 'g', -1, 64)
		}
	}
	return out
}

// server is one running binary and the test that drives it.
type server struct {
	*testenv.Server
	t    *testing.T
	base string
}

func (s *server) log() string { return s.Logs.String() }

// start runs the binary with a fresh data directory and waits for /healthz.
func start(t *testing.T, env ...string) *server {
	t.Helper()
	p := testenv.StartServer(t, binary, "", env...)
	return &server{Server: p, t: t, base: p.Base}
}

// stop sends SIGTERM and expects a clean exit within the drain time.
func (s *server) stop() {
	if err := s.Stop(30 * time.Second); err != nil {
		s.t.Errorf("%v\n%s", err, s.log())
	}
}

// call sends req and decodes the envelope, failing unless status_code is 0.
func (s *server) call(t *testing.T, req *http.Request) map[string]any {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d %s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	if code, ok := r["status_code"].(float64); !ok || code != 0 {
		t.Fatalf("%s %s: %s", req.Method, req.URL.Path, body)
	}
	return r
}

func (s *server) get(t *testing.T, path string, params url.Values) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.base+path+"?"+params.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.call(t, req)
}

func (s *server) post(t *testing.T, path string, params url.Values) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(params.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.call(t, req)
}

func (s *server) publish(t *testing.T, token string) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if err := w.WriteField("token", token); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteField("title", "traced"); err != nil {
		t.Fatal(err)
	}
	fw, err := w.CreateFormFile("data", "clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(media.SampleVideo()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.base+"/douyin/publish/action/", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	s.call(t, req)
}

// fullStack is MySQL, Redis under a fresh key prefix and RabbitMQ with its
// own queue names.
func fullStack(t *testing.T) []string {
	t.Helper()
	suffix := testenv.RandomSuffix()
	amqpURL := testenv.AMQPURL(t)
	queue := "tracing.cache." + suffix
	// Cleanup runs after the server's own stop (registered later runs first).
	t.Cleanup(func() { testenv.DeleteBrokerTopology(t, mq.Config{URL: amqpURL, Name: queue}) })
	return []string{
		"TIKTOK_DATABASE_DRIVER=mysql",
		"TIKTOK_DATABASE_DSN=" + testenv.MySQLDatabase(t),
		"TIKTOK_JWT_SECRET=" + strings.Repeat("trace-secret-", 3),
		"TIKTOK_REDIS_ADDR=" + testenv.RedisAddr(t),
		"TIKTOK_REDIS_PREFIX=tracing:" + suffix + ":",
		"TIKTOK_RABBITMQ_URL=" + amqpURL,
		"TIKTOK_RABBITMQ_QUEUE=" + queue,
	}
}

const (
	gormScope  = "gorm.io/plugin/opentelemetry"
	redisScope = "github.com/redis/go-redis/extra/redisotel"
)

// TestTraceFollowsALike drives register, publish, a feed read and a like
// through the full stack with tracing on, stops the server (which flushes
// the exporter) and finds the like's server span with its SQL and Redis
// spans beneath it in one trace.
func TestTraceFollowsALike(t *testing.T) {
	rc := newReceiver(t)
	service := "tiktok-trace-" + testenv.RandomSuffix()
	env := append(fullStack(t),
		"TIKTOK_TRACING_ENABLED=true",
		"TIKTOK_TRACING_ENDPOINT="+rc.url,
		"TIKTOK_TRACING_SERVICE_NAME="+service,
	)
	s := start(t, env...)

	reg := s.post(t, "/douyin/user/register/", url.Values{"username": {"tracer" + testenv.RandomSuffix()}, "password": {"secret1"}})
	token, _ := reg["token"].(string)
	s.publish(t, token)
	feed := s.get(t, "/douyin/feed/", url.Values{"token": {token}})
	videos, _ := feed["video_list"].([]any)
	if len(videos) != 1 {
		t.Fatalf("feed has %d videos, want 1", len(videos))
	}
	video, _ := videos[0].(map[string]any)
	id, _ := video["id"].(float64)
	s.post(t, "/douyin/favorite/action/", url.Values{"token": {token}, "video_id": {strconv.FormatInt(int64(id), 10)}, "action_type": {"1"}})
	s.stop()

	spans, exports := rc.received()
	if len(spans) == 0 {
		t.Fatalf("no spans received in %d exports\n%s", exports, s.log())
	}
	if strings.Contains(s.log(), "tracing error") {
		t.Errorf("the server logged tracing errors:\n%s", s.log())
	}
	for _, sp := range spans {
		if sp.resource["service.name"] != service {
			t.Fatalf("span %q from service %q, want %q", sp.name, sp.resource["service.name"], service)
		}
	}

	checks := []struct {
		route  string
		scopes []string // each needs a descendant span in the same trace
		verb   string   // a Redis span beneath names this command
	}{
		{"/douyin/favorite/action/", []string{gormScope, redisScope}, "del"},
		{"/douyin/feed/", []string{gormScope, redisScope}, ""},
	}
	for _, c := range checks {
		root, ok := serverSpan(spans, c.route)
		if !ok {
			t.Errorf("no server span with http.route %s among %d spans:\n%s", c.route, len(spans), describe(spans))
			continue
		}
		below := descendants(spans, root)
		for _, scope := range c.scopes {
			n := 0
			for _, d := range below {
				if d.scope == scope {
					n++
				}
			}
			if n == 0 {
				t.Errorf("%s: no %s span beneath the server span; beneath it:\n%s", c.route, scope, describe(below))
			}
		}
		if c.verb != "" && !hasRedisVerb(below, c.verb) {
			t.Errorf("%s: no Redis %s beneath the server span; beneath it:\n%s", c.route, c.verb, describe(below))
		}
	}
}

// TestTracingOffSendsNothing runs the default (tracing off) with an
// endpoint configured and checks that nothing is exported and nothing about
// tracing is logged.
func TestTracingOffSendsNothing(t *testing.T) {
	rc := newReceiver(t)
	s := start(t, "TIKTOK_TRACING_ENDPOINT="+rc.url)
	s.post(t, "/douyin/user/register/", url.Values{"username": {"quiet" + testenv.RandomSuffix()}, "password": {"secret1"}})
	s.get(t, "/douyin/feed/", nil)
	s.stop()
	if spans, exports := rc.received(); exports != 0 || len(spans) != 0 {
		t.Errorf("tracing off: got %d exports with %d spans, want none", exports, len(spans))
	}
	if log := s.log(); strings.Contains(log, "tracing") {
		t.Errorf("tracing off, yet the log mentions it:\n%s", log)
	}
}

// serverSpan finds the HTTP server span of route.
func serverSpan(spans []span, route string) (span, bool) {
	for _, sp := range spans {
		if sp.kind == tracepb.Span_SPAN_KIND_SERVER && sp.attrs["http.route"] == route {
			return sp, true
		}
	}
	return span{}, false
}

// descendants are the spans of root's trace whose parent chain reaches root.
func descendants(spans []span, root span) []span {
	byID := make(map[string]span)
	for _, sp := range spans {
		if sp.traceID == root.traceID {
			byID[sp.spanID] = sp
		}
	}
	var out []span
	for _, sp := range byID {
		for p, seen := sp.parentID, 0; p != "" && seen < len(byID); seen++ {
			if p == root.spanID {
				out = append(out, sp)
				break
			}
			p = byID[p].parentID
		}
	}
	return out
}

func hasRedisVerb(spans []span, verb string) bool {
	for _, sp := range spans {
		if sp.scope == redisScope && strings.Contains(" "+sp.name+" ", " "+verb+" ") {
			return true
		}
	}
	return false
}

func describe(spans []span) string {
	var b strings.Builder
	for _, sp := range spans {
		fmt.Fprintf(&b, "  %s %s/%s<-%s %q [%s] %v\n", sp.kind, sp.traceID[:8], sp.spanID[:8], sp.parentID, sp.name, sp.scope, sp.attrs)
	}
	return b.String()
}
