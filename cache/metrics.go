package cache

import "github.com/prometheus/client_golang/prometheus"

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
	if reg != nil {
		for _, c := range []prometheus.Collector{m.hits, m.misses, m.deletes, m.deleteRetries, m.deleteLost, m.errors} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) count(kind string, hits, misses int) {
	if hits > 0 {
		m.hits.WithLabelValues(kind, "redis").Add(float64(hits))
	}
	if misses > 0 {
		m.misses.WithLabelValues(kind).Add(float64(misses))
	}
}

func (m *metrics) local(kind string, hits int) {
	if hits > 0 {
		m.hits.WithLabelValues(kind, "local").Add(float64(hits))
	}
}
