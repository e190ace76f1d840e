package middleware

import (
	"errors"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/pkg/errcode"
	"github.com/tiktok-lite/server/pkg/response"
)

// route is the matched route pattern, never the raw URL: raw URLs carry
// tokens in their query strings and must not reach a log or a label.
func route(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}

// AccessLog writes one line per request: request id, route, latency, HTTP
// status and the envelope's status_code.
func AccessLog(log *zap.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		code, _ := c.Get(response.CodeKey)
		log.Info("request",
			zap.String("request_id", c.GetString(response.RequestIDKey)),
			zap.String("method", c.Request.Method),
			zap.String("route", route(c)),
			zap.Int("http_status", c.Writer.Status()),
			zap.Any("status_code", code),
			zap.Duration("latency", time.Since(start)),
			zap.String("client_ip", c.ClientIP()),
		)
	}
}

// Recovery turns a panic into the internal-error envelope and one log line
// with the stack; the client never sees the stack.
func Recovery(log *zap.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(rec) // the server's own signal to drop the connection
			}
			log.Error("panic",
				zap.String("request_id", c.GetString(response.RequestIDKey)),
				zap.String("route", route(c)),
				zap.Any("panic", rec),
				zap.ByteString("stack", debug.Stack()))
			if c.Writer.Written() {
				c.Abort()
				return
			}
			response.Fail(c, log, errcode.Internal)
		}()
		c.Next()
	}
}

// HTTPMetrics counts requests by route, method, HTTP status and envelope
// status_code, and times them by route and method.
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewHTTPMetrics registers the HTTP metrics on reg.
func NewHTTPMetrics(reg prometheus.Registerer) (*HTTPMetrics, error) {
	m := &HTTPMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tiktok_http_requests_total",
			Help: "Requests by route template, method, HTTP status and envelope status_code (- where the answer has no envelope: media, web client, probes).",
		}, []string{"route", "method", "http_status", "status_code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tiktok_http_request_duration_seconds", Help: "Request latency by route template and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
	}
	for _, col := range []prometheus.Collector{m.requests, m.latency} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// metricRoute is the route template with no trailing slash, so that the
// client contract's /douyin/feed/ and /douyin/feed are one series.
func metricRoute(c *gin.Context) string {
	r := route(c)
	if len(r) > 1 {
		r = strings.TrimSuffix(r, "/")
	}
	return r
}

// metricMethod keeps the label's values few: any client may send a method
// of its own invention.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// Handler records each request.
func (m *HTTPMetrics) Handler() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		r, method := metricRoute(c), metricMethod(c.Request.Method)
		code := "-"
		if v, ok := c.Get(response.CodeKey); ok {
			if n, ok := v.(int32); ok {
				code = strconv.Itoa(int(n))
			}
		}
		m.requests.WithLabelValues(r, method, strconv.Itoa(c.Writer.Status()), code).Inc()
		m.latency.WithLabelValues(r, method).Observe(time.Since(start).Seconds())
	}
}
