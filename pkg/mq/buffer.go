package mq

import (
	"bytes"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
)

// message is one accepted publish: its body and the headers it was
// accepted with (the trace context, taken then because it is sent later).
type message struct {
	body    []byte
	headers amqp.Table
}

// buffer holds accepted messages the broker has not confirmed yet. Messages
// taken for a publish still count against the limit until they are
// confirmed, so one that fails can always be put back.
type buffer struct {
	mu       sync.Mutex
	items    []message
	inflight int
	limit    int
	gauge    prometheus.Gauge
	wake     chan struct{} // a token means: there may be work
}

func newBuffer(limit int, gauge prometheus.Gauge) *buffer {
	return &buffer{limit: limit, gauge: gauge, wake: make(chan struct{}, 1)}
}

// push stores m with a copy of its body; false when the buffer is full.
func (q *buffer) push(m message) bool {
	q.mu.Lock()
	if len(q.items)+q.inflight >= q.limit {
		q.mu.Unlock()
		return false
	}
	m.body = bytes.Clone(m.body)
	q.items = append(q.items, m)
	q.updateLocked()
	q.mu.Unlock()

	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// take moves up to n messages to in flight; each taken batch must be given
// back through release.
func (q *buffer) take(n int) []message {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := min(n, len(q.items))
	if k == 0 {
		return nil
	}
	batch := make([]message, k)
	copy(batch, q.items)
	// clear the references so the taken bodies can be collected once confirmed
	clear(q.items[:k])
	q.items = q.items[k:]
	if len(q.items) == 0 {
		q.items = nil
	}
	q.inflight += k
	return batch
}

// release ends a taken batch of size taken; failed messages go back to the
// front.
func (q *buffer) release(taken int, failed []message) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight -= taken
	if len(failed) > 0 {
		q.items = append(failed, q.items...)
	}
	q.updateLocked()
}

// len counts buffered and in-flight messages.
func (q *buffer) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) + q.inflight
}

func (q *buffer) updateLocked() {
	q.gauge.Set(float64(len(q.items) + q.inflight))
}
