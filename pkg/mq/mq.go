// Package mq carries opaque messages through RabbitMQ to a handler in the
// same binary, at least once: persistent messages with publisher confirms, a
// bounded in-process buffer while the broker is away, manual acks after the
// handler succeeded, retries through delay queues and a parking queue after
// the last attempt.
package mq

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

var (
	// ErrBufferFull means the message was not accepted: the broker is
	// unreachable and the in-process buffer has no room left.
	ErrBufferFull = errors.New("mq: buffer full")
	// ErrNotConnected is returned by Ping while there is no live connection.
	ErrNotConnected = errors.New("mq: not connected")
	// ErrClosed is returned by Publish after Close.
	ErrClosed = errors.New("mq: closed")

	errNacked = errors.New("mq: publish nacked by the broker")
)

const (
	dialTimeout    = 5 * time.Second
	heartbeat      = 10 * time.Second
	confirmTimeout = 5 * time.Second
	backoffMin     = 100 * time.Millisecond
	backoffMax     = 10 * time.Second
	// a connection that lived this long resets the reconnect backoff
	stableAfter = 5 * time.Second
	flushBatch  = 256
)

// Broker owns one connection to RabbitMQ, its publisher and its consumers.
type Broker struct {
	cfg   Config
	names topology
	log   *zap.Logger
	m     *metrics
	buf   *buffer

	mu         sync.Mutex
	cur        *link
	changed    chan struct{} // closed and replaced whenever cur changes
	closed     bool
	publishing sync.WaitGroup // Publish calls in progress
	consumers  sync.WaitGroup // consumer loops

	probeMu sync.Mutex
	probe   *probe // the round trip of Ping in flight, nil when none

	stopping  chan struct{} // closed by Close
	runSem    chan struct{} // held by Run, and by Close for good
	closeOnce sync.Once
	closeErr  error
}

// New checks cfg and builds a Broker. It does not dial; Run does. reg may be
// nil, in which case the metrics are kept but not exported.
func New(cfg Config, logger *zap.Logger, reg prometheus.Registerer) (*Broker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	m, err := newMetrics(cfg.Name, reg)
	if err != nil {
		return nil, fmt.Errorf("mq: register metrics: %w", err)
	}
	m.connected.Set(0)
	return &Broker{
		cfg:      cfg,
		names:    newTopology(cfg),
		log:      logger.With(zap.String("mq", cfg.Name)),
		m:        m,
		buf:      newBuffer(cfg.BufferSize, m.buffered),
		changed:  make(chan struct{}),
		stopping: make(chan struct{}),
		runSem:   make(chan struct{}, 1),
	}, nil
}

// Publish sends body as a persistent message and waits for the broker's
// confirm. When there is no connection, or the publish fails, is nacked or
// is not confirmed in time, the message is kept in the buffer and sent after
// reconnecting; Publish then still returns nil. It returns ErrBufferFull when
// that buffer has no room, ctx's error when ctx is already done, and
// ErrClosed after Close. A message that was once accepted is not dropped while
// the process lives, though it may arrive twice. The trace context of ctx
// goes with the message, even when it is sent later from the buffer.
func (b *Broker) Publish(ctx context.Context, body []byte) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, span := startSpan(ctx, b.names.work, "publish", trace.SpanKindProducer)
	defer func() { endSpan(span, err) }()
	msg := message{body: body, headers: traceHeaders(ctx, nil)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.publishing.Add(1)
	s := b.cur
	b.mu.Unlock()
	defer b.publishing.Done()

	if s != nil && !s.dead() {
		_, err := b.publishBatch(ctx, s, []message{msg})
		if err == nil {
			return nil
		}
		b.log.Warn("mq: publish failed, buffering", zap.Error(err))
	}
	span.AddEvent("buffered")
	if !b.buf.push(msg) {
		return ErrBufferFull
	}
	return nil
}

// Enqueue accepts body like Publish but never waits for the broker: the
// message goes to the buffer, and the connection's loop publishes it with
// a confirm as soon as it can. It returns ErrBufferFull when the buffer
// has no room and ErrClosed after Close.
func (b *Broker) Enqueue(ctx context.Context, body []byte) (err error) {
	ctx, span := startSpan(ctx, b.names.work, "enqueue", trace.SpanKindProducer)
	defer func() { endSpan(span, err) }()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.publishing.Add(1) // Close flushes only after this push
	b.mu.Unlock()
	defer b.publishing.Done()
	if !b.buf.push(message{body: body, headers: traceHeaders(ctx, nil)}) {
		return ErrBufferFull
	}
	return nil
}

// Ping reports whether the broker answers a round trip on the live
// connection (opening and closing a channel), for readiness checks: a
// connection whose broker went silent still looks open until its
// heartbeats time out. Concurrent calls share one round trip.
func (b *Broker) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := b.live()
	if s == nil {
		return ErrNotConnected
	}
	b.probeMu.Lock()
	p := b.probe
	if p == nil {
		p = &probe{done: make(chan struct{})}
		b.probe = p
		go b.roundTrip(s, p)
	}
	b.probeMu.Unlock()
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("mq: the broker did not answer: %w", ctx.Err())
	}
}

// probe is one round trip to the broker that Ping calls share.
type probe struct {
	done chan struct{}
	err  error
}

func (b *Broker) roundTrip(s *link, p *probe) {
	ch, err := s.conn.Channel()
	if err == nil {
		err = ch.Close()
	}
	p.err = err
	b.probeMu.Lock()
	b.probe = nil
	b.probeMu.Unlock()
	close(p.done)
}

// Pending counts messages in the in-process buffer, including those being
// published from it right now.
func (b *Broker) Pending() int {
	return b.buf.len()
}

// Run keeps a connection up until ctx is done or Close is called: it dials,
// declares the topology, serves the registered consumers, publishes the
// buffer, and reconnects with a capped exponential backoff when the
// connection or one of its channels closes. When ctx ends the last
// connection is left open, so that Close can flush the buffer through it.
func (b *Broker) Run(ctx context.Context) error {
	select {
	case b.runSem <- struct{}{}:
	default:
		return errors.New("mq: run is already active or the broker is closed")
	}
	defer func() { <-b.runSem }()

	failures := 0
	for {
		if b.stopped(ctx) {
			return nil
		}
		s, err := b.connect(ctx)
		if err != nil {
			failures++
			b.log.Warn("mq: connect failed", zap.Int("failures", failures), zap.Error(err))
			if !b.sleep(ctx, backoff(failures)) {
				return nil
			}
			continue
		}
		b.setLink(s)
		b.log.Info("mq: connected")

		b.serve(ctx, s)
		if !s.dead() {
			return nil
		}
		if time.Since(s.born) >= stableAfter {
			failures = 0
		}
		failures++
		if !b.sleep(ctx, backoff(failures)) {
			return nil
		}
	}
}

// serve publishes the buffer whenever it has messages, until the link
// ends or Run is asked to stop.
func (b *Broker) serve(ctx context.Context, s *link) {
	for {
		if err := b.flush(ctx, s); err != nil && ctx.Err() == nil {
			// the connection is broken or the broker misbehaves: reconnect
			b.endLink(s, fmt.Errorf("publish buffered messages: %w", err))
			return
		}
		select {
		case <-b.buf.wake:
		case <-s.done:
			return
		case <-ctx.Done():
			return
		case <-b.stopping:
			return
		}
	}
}

// Close stops the consumers (in-flight messages go back to the queue), waits
// for Run to return, publishes what is left in the buffer (dialing again if
// needed) and closes the connection, all bounded by ctx. The error names how
// many messages could not be flushed. Calls after the first return the first
// result.
func (b *Broker) Close(ctx context.Context) error {
	b.closeOnce.Do(func() { b.closeErr = b.shutdown(ctx) })
	return b.closeErr
}

func (b *Broker) shutdown(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	close(b.stopping)

	err := waitGroup(ctx, &b.consumers)
	if err == nil {
		err = waitGroup(ctx, &b.publishing)
	}
	if err == nil {
		// once the semaphore is ours Run has returned, and it never starts again
		select {
		case b.runSem <- struct{}{}:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err == nil {
		err = b.flushAll(ctx)
	}
	if s := b.current(); s != nil {
		b.endLink(s, nil)
	}
	if n := b.buf.len(); n > 0 {
		return fmt.Errorf("mq: close: %d messages not flushed: %w", n, err)
	}
	if err != nil {
		return fmt.Errorf("mq: close: %w", err)
	}
	return nil
}

// flushAll publishes the whole buffer, reconnecting as needed, until it is
// empty or ctx ends.
func (b *Broker) flushAll(ctx context.Context) error {
	var lastErr error
	failures := 0
	for b.buf.len() > 0 {
		if err := ctx.Err(); err != nil {
			return errors.Join(err, lastErr)
		}
		s := b.live()
		if s == nil {
			var err error
			if s, err = b.connect(ctx); err != nil {
				lastErr = err
				failures++
				if !sleepCtx(ctx, backoff(failures)) {
					return errors.Join(ctx.Err(), lastErr)
				}
				continue
			}
			b.setLink(s)
		}
		if err := b.flush(ctx, s); err != nil {
			lastErr = err
			b.endLink(s, fmt.Errorf("publish buffered messages: %w", err))
		}
	}
	return nil
}

// flush publishes the buffer in batches until it is empty or a batch fails.
func (b *Broker) flush(ctx context.Context, s *link) error {
	for {
		batch := b.buf.take(flushBatch)
		if len(batch) == 0 {
			return nil
		}
		failed, err := b.publishBatch(ctx, s, batch)
		b.buf.release(len(batch), failed)
		if err != nil {
			return err
		}
	}
}

// publishBatch publishes msgs to the work queue and waits for all
// confirms; it returns the messages that were not confirmed.
func (b *Broker) publishBatch(ctx context.Context, s *link, msgs []message) ([]message, error) {
	ctx, cancel := context.WithTimeout(ctx, confirmTimeout)
	defer cancel()

	var failed []message
	var firstErr error
	pending := make([]*amqp.DeferredConfirmation, 0, len(msgs))
	for i, m := range msgs {
		dc, err := s.pub.PublishWithDeferredConfirmWithContext(ctx, b.names.exchange, b.names.work, false, false, persistent(m.body, m.headers))
		if err != nil {
			failed = append(failed, msgs[i:]...)
			firstErr = fmt.Errorf("publish: %w", err)
			break
		}
		pending = append(pending, dc)
	}
	for i, dc := range pending {
		if err := waitConfirm(ctx, dc); err != nil {
			failed = append(failed, msgs[i])
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		b.m.published.Inc()
	}
	b.m.publishFailures.Add(float64(len(failed)))
	return failed, firstErr
}

// waitConfirm waits for the broker's ack of one publish on a confirm-mode
// channel. A closed channel nacks everything still pending.
func waitConfirm(ctx context.Context, dc *amqp.DeferredConfirmation) error {
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("wait for confirm: %w", err)
	}
	if !ok {
		return errNacked
	}
	return nil
}

func persistent(body []byte, headers amqp.Table) amqp.Publishing {
	return amqp.Publishing{
		DeliveryMode: amqp.Persistent,
		ContentType:  "application/octet-stream",
		Timestamp:    time.Now(),
		Headers:      headers,
		Body:         body,
	}
}

// stopped reports whether Run should return.
func (b *Broker) stopped(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	case <-b.stopping:
		return true
	default:
		return false
	}
}

// sleep waits d; false when Run should return instead.
func (b *Broker) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-b.stopping:
		return false
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// backoff is the wait before reconnect attempt n (n >= 1): doubling from
// backoffMin up to backoffMax, with the upper half jittered so that many
// processes do not reconnect in step.
func backoff(n int) time.Duration {
	d := backoffMax
	if n <= 8 {
		d = min(backoffMin<<(max(n, 1)-1), backoffMax)
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// waitGroup waits for wg or ctx, whichever ends first.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
