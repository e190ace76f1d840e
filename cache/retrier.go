package cache

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/pkg/mq"
)

// ErrRetryQueueFull means the in-process retry queue refused a message.
var ErrRetryQueueFull = errors.New("retry queue full")

// LocalRetrier retries failed deletes in this process, for a setup with
// Redis but no RabbitMQ. Its queue is bounded; messages still queued when
// the process dies are lost, and the TTL bounds their staleness.
type LocalRetrier struct {
	queue       chan []byte
	log         *zap.Logger
	maxAttempts int
	delays      []time.Duration
	parked      prometheus.Counter
}

// NewLocalRetrier queues up to size messages, each tried up to maxAttempts
// times with growing delays by Run. reg may be nil.
func NewLocalRetrier(size, maxAttempts int, log *zap.Logger, reg prometheus.Registerer) (*LocalRetrier, error) {
	parked := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tiktok_cache_delete_parked_total", Help: "In-process cache deletes given up after the last attempt.",
	})
	if reg != nil {
		if err := reg.Register(parked); err != nil {
			return nil, err
		}
	}
	return &LocalRetrier{
		queue: make(chan []byte, size), log: log.Named("retry"), maxAttempts: maxAttempts,
		delays: []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, time.Second, 5 * time.Second, 30 * time.Second},
		parked: parked,
	}, nil
}

// Enqueue queues body; it never blocks.
func (r *LocalRetrier) Enqueue(_ context.Context, body []byte) error {
	select {
	case r.queue <- body:
		return nil
	default:
		return ErrRetryQueueFull
	}
}

// Handler does the work of one message.
type Handler func(ctx context.Context, body []byte) error

// Run works the queue with handle until ctx is done, then tries what is
// left once.
func (r *LocalRetrier) Run(ctx context.Context, handle Handler) {
	for {
		select {
		case body := <-r.queue:
			r.work(ctx, handle, body)
		case <-ctx.Done():
			r.drain(handle)
			return
		}
	}
}

func (r *LocalRetrier) work(ctx context.Context, handle Handler, body []byte) {
	for attempt := 1; ; attempt++ {
		err := handle(ctx, body)
		if err == nil {
			return
		}
		if mq.Unavailable(err) {
			attempt-- // Redis is away: that is no attempt of the delete's
		} else if attempt >= r.maxAttempts {
			r.parked.Inc()
			r.log.Error("cache delete given up", zap.Int("attempts", attempt), zap.ByteString("keys", body), zap.Error(err))
			return
		}
		delay := r.delays[min(max(attempt-1, 0), len(r.delays)-1)]
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			// Shutting down: put it back for the final drain.
			if r.Enqueue(ctx, body) != nil {
				r.log.Error("cache delete dropped at shutdown", zap.ByteString("keys", body))
			}
			return
		}
	}
}

// drain makes one last attempt at every queued message.
func (r *LocalRetrier) drain(handle Handler) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		select {
		case body := <-r.queue:
			if err := handle(ctx, body); err != nil {
				r.log.Error("cache delete dropped at shutdown", zap.ByteString("keys", body), zap.Error(err))
			}
		default:
			return
		}
	}
}
