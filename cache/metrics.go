package cache

import (
	"github.com/prometheus/client_golang/prometheus"

	pmetrics "github.com/tiktok-lite/server/pkg/metrics"
)

type metrics struct {
	hits, misses  *prometheus.CounterVec
	deletes       prometheus.Counter
	deleteRetries prometheus.Counter
	deleteLost    prometheus.Counter
	errors        prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		hits:          prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tiktok_cache_hits_total", Help: "Cache reads answered without the database, by kind and layer (local: in process; redis)."}, []string{"kind", "layer"}),
		misses:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tiktok_cache_misses_total", Help: "Cache reads loaded from the database, by kind."}, []string{"kind"}),
		deletes:       prometheus.NewCounter(prometheus.CounterOpts{Name: "tiktok_cache_deletes_total", Help: "Keys deleted after writes (first, second and retried deletes)."}),
		deleteRetries: prometheus.NewCounter(prometheus.CounterOpts{Name: "tiktok_cache_delete_retries_total", Help: "Deletes that failed and were handed to the retry queue."}),
		deleteLost:    prometheus.NewCounter(prometheus.CounterOpts{Name: "tiktok_cache_delete_lost_total", Help: "Failed deletes the retry queue refused (the TTL bounds their staleness)."}),
		errors:        prometheus.NewCounter(prometheus.CounterOpts{Name: "tiktok_cache_redis_errors_total", Help: "Redis operations that failed."}),
	}
	if reg == nil {
		return m, nil
	}
	// Every layer of a stack registers on the same registry and shares the
	// series of the first.
	var err error
	for _, c := range []**prometheus.CounterVec{&m.hits, &m.misses} {
		if *c, err = pmetrics.Register(reg, *c); err != nil {
			return nil, err
		}
	}
	for _, c := range []*prometheus.Counter{&m.deletes, &m.deleteRetries, &m.deleteLost, &m.errors} {
		if *c, err = pmetrics.Register(reg, *c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// redis counts reads Redis answered.
func (m *metrics) redis(kind string, hits int) {
	if hits > 0 {
		m.hits.WithLabelValues(kind, "redis").Add(float64(hits))
	}
}

// local counts reads the in-process layer answered.
func (m *metrics) local(kind string, hits int) {
	if hits > 0 {
		m.hits.WithLabelValues(kind, "local").Add(float64(hits))
	}
}

// miss counts reads that reached the database.
func (m *metrics) miss(kind string, n int) {
	if n > 0 {
		m.misses.WithLabelValues(kind).Add(float64(n))
	}
}
