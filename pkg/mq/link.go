package mq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
)

// link is one live connection with its confirm-mode publisher channel.
// It ends once, when either closes or endLink is called.
type link struct {
	conn *amqp.Connection
	pub  *amqp.Channel
	born time.Time
	done chan struct{}
	once sync.Once
}

func (s *link) dead() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// connect dials, declares the topology and opens the publisher channel.
func (b *Broker) connect(ctx context.Context) (*link, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(b.cfg.Name)
	conn, err := amqp.DialConfig(b.cfg.URL, amqp.Config{
		Heartbeat:  heartbeat,
		Properties: props,
		Dial:       dialer(ctx),
	})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	s, err := b.open(conn)
	if err != nil {
		if cerr := conn.Close(); cerr != nil && !errors.Is(cerr, amqp.ErrClosed) {
			b.log.Debug("mq: close after failed setup", zap.Error(cerr))
		}
		return nil, err
	}
	return s, nil
}

func (b *Broker) open(conn *amqp.Connection) (*link, error) {
	if err := b.declare(conn); err != nil {
		return nil, fmt.Errorf("declare topology: %w", err)
	}
	pub, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open publisher channel: %w", err)
	}
	if err := pub.Confirm(false); err != nil {
		return nil, fmt.Errorf("enable publisher confirms: %w", err)
	}
	s := &link{conn: conn, pub: pub, born: time.Now(), done: make(chan struct{})}
	// buffered: the library sends at most one error on each and then closes it
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))
	pubClosed := pub.NotifyClose(make(chan *amqp.Error, 1))
	go func() {
		var reason *amqp.Error
		select {
		case reason = <-connClosed:
		case reason = <-pubClosed:
		case <-s.done:
			return
		}
		err := errors.New("connection closed")
		if reason != nil {
			err = reason
		}
		b.endLink(s, err)
	}()
	return s, nil
}

// declare creates the exchange, the queues and their bindings. Declaring
// with the same arguments again is a no-op, so every connection does it and
// an empty broker works.
func (b *Broker) declare(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer b.closeChannel(ch)
	if err := ch.ExchangeDeclare(b.names.exchange, amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return fmt.Errorf("exchange %s: %w", b.names.exchange, err)
	}
	for _, q := range b.names.queues {
		if _, err := ch.QueueDeclare(q.name, true, false, false, false, q.args); err != nil {
			return fmt.Errorf("queue %s: %w", q.name, err)
		}
		if err := ch.QueueBind(q.name, q.name, b.names.exchange, false, nil); err != nil {
			return fmt.Errorf("bind %s: %w", q.name, err)
		}
	}
	return nil
}

// dialer bounds the TCP dial by ctx and the AMQP handshake by dialTimeout;
// the library clears the deadline once the handshake is done.
func dialer(ctx context.Context) func(network, addr string) (net.Conn, error) {
	return func(network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: dialTimeout}
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if err := conn.SetDeadline(time.Now().Add(dialTimeout)); err != nil {
			return nil, errors.Join(err, conn.Close())
		}
		return conn, nil
	}
}

// setLink publishes s (or nil) as the current link and wakes waiters.
func (b *Broker) setLink(s *link) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.setLinkLocked(s)
}

// clearLink forgets s unless another link has replaced it already.
func (b *Broker) clearLink(s *link) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur == s {
		b.setLinkLocked(nil)
	}
}

func (b *Broker) setLinkLocked(s *link) {
	b.cur = s
	close(b.changed)
	b.changed = make(chan struct{})
	if s != nil {
		b.m.connected.Set(1)
	} else {
		b.m.connected.Set(0)
	}
}

// current is the link last set, live or not.
func (b *Broker) current() *link {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

// live is the current link when it has not ended, else nil.
func (b *Broker) live() *link {
	s := b.current()
	if s == nil || s.dead() {
		return nil
	}
	return s
}

// waitLink blocks until a live link exists or ctx ends.
func (b *Broker) waitLink(ctx context.Context) (*link, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b.mu.Lock()
		s, changed := b.cur, b.changed
		b.mu.Unlock()
		if s != nil && !s.dead() {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-changed:
		}
	}
}

// endLink closes s once; reason is logged unless nil (a deliberate close).
func (b *Broker) endLink(s *link, reason error) {
	s.once.Do(func() {
		close(s.done)
		if reason != nil {
			b.log.Warn("mq: connection lost", zap.Error(reason))
		}
		if err := s.conn.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
			b.log.Debug("mq: close connection", zap.Error(err))
		}
		b.clearLink(s)
	})
}

func (b *Broker) closeChannel(ch *amqp.Channel) {
	if err := ch.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
		b.log.Debug("mq: close channel", zap.Error(err))
	}
}
