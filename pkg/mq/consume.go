package mq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

const (
	headerAttempt = "attempt"    // the attempt this delivery is, from 1
	headerError   = "last-error" // why the previous attempt failed
	maxErrorLen   = 1024
)

type attemptKey struct{}

// Attempt is the attempt number (from 1) of the delivery whose handler got
// ctx, or 0 outside a handler.
func Attempt(ctx context.Context) int {
	n, ok := ctx.Value(attemptKey{}).(int)
	if !ok {
		return 0
	}
	return n
}

// Consume runs handler for messages of the work queue, on the current
// connection and on every later one, until ctx is done or Close is called;
// it returns at once. Up to Prefetch deliveries are handled concurrently,
// so handler must be safe for concurrent use, and it must be idempotent:
// delivery is at least once.
//
// A delivery is acked only after handler returned nil. When handler fails,
// a copy goes to the delay queue for the attempt just made and the original
// is acked once that copy is confirmed; after MaxAttempts the copy goes to
// the parking queue instead. An error that says what the handler needs is
// unavailable (see Unavailable) does not count as an attempt: the copy
// waits the same delay again, however long that lasts, and is never parked
// for it. When the copy cannot be confirmed, or handler failed because ctx
// ended, the original is requeued unchanged.
func (b *Broker) Consume(ctx context.Context, handler func(ctx context.Context, body []byte) error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.log.Warn("mq: consume after close ignored")
		return
	}
	b.consumers.Add(1)
	b.mu.Unlock()

	go func() {
		defer b.consumers.Done()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-b.stopping:
				cancel()
			case <-ctx.Done():
			}
		}()
		for {
			s, err := b.waitLink(ctx)
			if err != nil {
				return
			}
			b.consumeLink(ctx, s, handler)
		}
	}()
}

// consumeLink consumes on its own channel of s until the channel closes
// or ctx ends; then the channel is closed, which returns every unacked
// delivery to the queue.
func (b *Broker) consumeLink(ctx context.Context, s *link, handler func(context.Context, []byte) error) {
	ch, err := s.conn.Channel()
	if err != nil {
		b.endLink(s, fmt.Errorf("open consumer channel: %w", err))
		return
	}
	defer b.closeChannel(ch)
	if err := ch.Qos(b.cfg.Prefetch, 0, false); err != nil {
		b.endLink(s, fmt.Errorf("set prefetch: %w", err))
		return
	}
	// retry and park copies are published here, so they are confirmed on the
	// same channel that acks the original
	if err := ch.Confirm(false); err != nil {
		b.endLink(s, fmt.Errorf("enable consumer confirms: %w", err))
		return
	}
	deliveries, err := ch.Consume(b.names.work, "", false, false, false, false, nil)
	if err != nil {
		b.endLink(s, fmt.Errorf("consume %s: %w", b.names.work, err))
		return
	}

	var wg sync.WaitGroup
	for range b.cfg.Prefetch {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case d, ok := <-deliveries:
					if !ok {
						return
					}
					b.handle(ctx, ch, d, handler)
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() == nil && !s.dead() {
		// the broker closed the channel (a deleted queue, say): reconnecting
		// declares the topology again
		b.endLink(s, errors.New("consumer channel closed"))
	}
}

func (b *Broker) handle(ctx context.Context, ch *amqp.Channel, d amqp.Delivery, handler func(context.Context, []byte) error) {
	attempt := attemptOf(d.Headers)
	// the span continues the trace of the request that published the message
	ctx, span := startSpan(deliveryContext(ctx, d), b.names.work, "process", trace.SpanKindConsumer,
		attribute.Int("messaging.rabbitmq.attempt", attempt))
	err := runHandler(context.WithValue(ctx, attemptKey{}, attempt), d.Body, handler)
	defer func() { endSpan(span, err) }()
	if err == nil {
		if err := d.Ack(false); err != nil {
			b.log.Warn("mq: ack failed, the message will be delivered again", zap.Error(err))
			return
		}
		b.m.consumed.Inc()
		return
	}
	if ctx.Err() != nil {
		// stopping: the work was not done and is no fault of the message
		b.requeue(d, err)
		return
	}

	// the copy must settle even if shutdown starts now, so that the original
	// is acked or requeued, never left to chance
	pctx := context.WithoutCancel(ctx)
	next, counted := attempt+1, !Unavailable(err)
	if !counted {
		next = attempt // not the message's fault: the same attempt, later
	}
	headers := traceHeaders(ctx, amqp.Table{headerAttempt: int32(next), headerError: truncate(err.Error(), maxErrorLen)})
	key := b.names.delayFor(attempt)
	parking := counted && attempt >= b.cfg.MaxAttempts
	if parking {
		headers[headerAttempt] = int32(attempt)
		key = b.names.parked
	}
	if perr := publishConfirmed(pctx, ch, b.names.exchange, key, persistent(d.Body, headers)); perr != nil {
		b.requeue(d, fmt.Errorf("send to %s: %w", key, perr))
		return
	}
	if err := d.Ack(false); err != nil {
		// the copy is out already; a second delivery of the original is the
		// at-least-once price
		b.log.Warn("mq: ack after retry failed, the message will be delivered again", zap.Error(err))
	}
	if parking {
		b.m.parked.Inc()
		b.log.Error("mq: message parked", zap.String("queue", b.names.parked), zap.Int("attempts", attempt), zap.Error(err))
		return
	}
	b.m.retried.Inc()
	b.log.Debug("mq: message retried", zap.Int("attempt", attempt), zap.String("delay_queue", key), zap.Error(err))
}

// Unavailable reports whether err says that what a handler needs is away
// for now (a Redis that does not answer), rather than that the message
// failed: err, or an error it wraps, has a method Unavailable() returning
// true. Such a failure is retried without counting towards MaxAttempts.
func Unavailable(err error) bool {
	var u interface{ Unavailable() bool }
	return errors.As(err, &u) && u.Unavailable()
}

// runHandler turns a handler panic into a failed attempt.
func runHandler(ctx context.Context, body []byte, handler func(context.Context, []byte) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mq: handler panic: %v", r)
		}
	}()
	return handler(ctx, body)
}

func (b *Broker) requeue(d amqp.Delivery, reason error) {
	b.log.Warn("mq: message requeued", zap.Error(reason))
	if err := d.Nack(false, true); err != nil {
		// a closed channel returns the delivery to the queue by itself
		b.log.Debug("mq: nack failed", zap.Error(err))
	}
}

// publishConfirmed publishes one message on a confirm-mode channel and waits
// for the broker's ack.
func publishConfirmed(ctx context.Context, ch *amqp.Channel, exchange, key string, msg amqp.Publishing) error {
	ctx, cancel := context.WithTimeout(ctx, confirmTimeout)
	defer cancel()
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, msg)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return waitConfirm(ctx, dc)
}

// attemptOf reads the attempt header; a message without one is on attempt 1.
func attemptOf(h amqp.Table) int {
	var n int64
	switch v := h[headerAttempt].(type) {
	case int8:
		n = int64(v)
	case int16:
		n = int64(v)
	case int32:
		n = int64(v)
	case int64:
		n = v
	case int:
		n = int64(v)
	case uint8:
		n = int64(v)
	case uint16:
		n = int64(v)
	case uint32:
		n = int64(v)
	}
	if n < 1 || n > 1<<30 {
		return 1
	}
	return int(n)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// cut on a rune boundary so the header stays valid text
	return strings.ToValidUTF8(s[:n], "")
}
