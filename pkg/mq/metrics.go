package mq

import (
	"github.com/prometheus/client_golang/prometheus"

	pmetrics "github.com/tiktok-lite/server/pkg/metrics"
)

type metrics struct {
	published       prometheus.Counter
	consumed        prometheus.Counter
	retried         prometheus.Counter
	parked          prometheus.Counter
	publishFailures prometheus.Counter
	buffered        prometheus.Gauge
	connected       prometheus.Gauge
}

// newMetrics builds the collectors, labelled with the stream name so that two
// brokers can share one registry, and registers them when reg is not nil.
func newMetrics(name string, reg prometheus.Registerer) (*metrics, error) {
	labels := prometheus.Labels{"name": name}
	counter := func(metric, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: metric, Help: help, ConstLabels: labels})
	}
	gauge := func(metric, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: metric, Help: help, ConstLabels: labels})
	}
	m := &metrics{
		published:       counter("tiktok_mq_published_total", "Messages confirmed by the broker on the work queue."),
		consumed:        counter("tiktok_mq_consumed_total", "Messages handled successfully and acknowledged."),
		retried:         counter("tiktok_mq_retried_total", "Failed messages sent to a delay queue for another attempt."),
		parked:          counter("tiktok_mq_parked_total", "Messages moved to the parking queue after the last attempt failed."),
		publishFailures: counter("tiktok_mq_publish_failures_total", "Publishes that failed, were nacked or timed out and were buffered again."),
		buffered:        gauge("tiktok_mq_buffered", "Messages waiting in the in-process buffer."),
		connected:       gauge("tiktok_mq_connected", "1 while connected to the broker, else 0."),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	for _, c := range []*prometheus.Counter{&m.published, &m.consumed, &m.retried, &m.parked, &m.publishFailures} {
		if *c, err = pmetrics.Register(reg, *c); err != nil {
			return nil, err
		}
	}
	for _, g := range []*prometheus.Gauge{&m.buffered, &m.connected} {
		if *g, err = pmetrics.Register(reg, *g); err != nil {
			return nil, err
		}
	}
	return m, nil
}
