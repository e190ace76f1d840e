package controller

import (
	"context"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/pkg/errcode"
	"github.com/tiktok-lite/server/pkg/response"
)

// Check reports whether one dependency answers.
type Check struct {
	Name string
	Ping func(ctx context.Context) error
	// Degrades marks a dependency the server works without, only less
	// well (a read replica): failing, it is "degraded" and the instance
	// stays ready.
	Degrades bool
}

// Health answers the liveness and readiness probes.
type Health struct {
	checks []Check
	log    *zap.Logger
}

// NewHealth returns the probe controller over checks.
func NewHealth(log *zap.Logger, checks ...Check) *Health { return &Health{checks: checks, log: log} }

// Alive handles GET /healthz: the process serves requests.
func (h *Health) Alive(c *gin.Context) {
	c.JSON(200, gin.H{"status": "ok"})
}

// Ready handles GET /readyz: every configured dependency answers within a
// second. 503 lets a load balancer take this instance out of rotation; a
// dependency that only degrades the service is reported, not counted.
func (h *Health) Ready(c *gin.Context) {
	results := h.probe(c.Request.Context())
	status, ready := map[string]string{}, true
	for i, chk := range h.checks {
		if err := results[i]; err != nil {
			status[chk.Name] = "down"
			if chk.Degrades {
				status[chk.Name] = "degraded"
			} else {
				ready = false
			}
			h.log.Warn("readiness check failed", zap.String("dependency", chk.Name), zap.Error(err))
			continue
		}
		status[chk.Name] = "ok"
	}
	code := 200
	if !ready {
		code = 503
	}
	c.JSON(code, gin.H{"ready": ready, "dependencies": status})
}

// probe runs every check at once, each with its own second, so one
// dependency that hangs cannot make the others look down.
func (h *Health) probe(ctx context.Context) []error {
	results := make([]error, len(h.checks))
	var wg sync.WaitGroup
	for i, chk := range h.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			results[i] = chk.Ping(ctx)
		}()
	}
	wg.Wait()
	return results
}

var dependencyUp = prometheus.NewDesc("tiktok_dependency_up",
	"1 while the dependency answers its readiness check (run at each scrape, within a second), else 0.",
	[]string{"dependency"}, nil)

// Describe and Collect make Health a Prometheus collector of
// tiktok_dependency_up, checked afresh at every scrape.
func (h *Health) Describe(ch chan<- *prometheus.Desc) { ch <- dependencyUp }

// Collect runs the readiness checks.
func (h *Health) Collect(ch chan<- prometheus.Metric) {
	for i, err := range h.probe(context.Background()) {
		up := 1.0
		if err != nil {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(dependencyUp, prometheus.GaugeValue, up, h.checks[i].Name)
	}
}

// NotFound answers unknown routes with the not-found envelope and a real
// 404, so that a typo in a client's base URL is plain to see.
func (h *Health) NotFound(c *gin.Context) {
	c.Set(response.CodeKey, errcode.NotFound.Code)
	c.JSON(404, response.Envelope{StatusCode: errcode.NotFound.Code, StatusMsg: "no such route"})
}
