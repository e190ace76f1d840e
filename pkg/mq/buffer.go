package mq

import (
	"bytes"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// buffer holds accepted messages the broker has not confirmed yet. Messages
// taken for a publish still count against the limit until they are
// confirmed, so one that fails can always be put back.
type buffer struct {
	mu       sync.Mutex
	items    [][]byte
	inflight int
	limit    int
	gauge    prometheus.Gauge
	wake     chan struct{} // a token means: there may be work
}

func newBuffer(limit int, gauge prometheus.Gauge) *buffer {
	return &buffer{limit: limit, gauge: gauge, wake: make(chan struct{}, 1)}
}

// push stores a copy of body; false when the buffer is full.
func (q *buffer) push(body []byte) bool {
	q.mu.Lock()
	if len(q.items)+q.inflight >= q.limit {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, bytes.Clone(body))
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
func (q *buffer) take(n int) [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := min(n, len(q.items))
	if k == 0 {
		return nil
	}
	batch := make([][]byte, k)
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
func (q *buffer) release(taken int, failed [][]byte) {
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
