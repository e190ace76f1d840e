package mq

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Config describes the broker and the queues of one message stream.
type Config struct {
	URL         string          // amqp://guest:guest@127.0.0.1:5672/
	Name        string          // base name of the exchange and queues, e.g. "tiktok.cache.delete"
	Quorum      bool            // declare quorum queues instead of classic durable ones
	Prefetch    int             // unacknowledged deliveries per consumer, default 32
	MaxAttempts int             // handler runs before a message is parked, default 8
	RetryDelays []time.Duration // delay before attempt n+1 is RetryDelays[n-1]; the last one repeats
	BufferSize  int             // in-process buffer while the broker is unreachable, default 10000
}

const (
	defaultPrefetch    = 32
	defaultMaxAttempts = 8
	defaultBufferSize  = 10000
)

func defaultRetryDelays() []time.Duration {
	return []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute}
}

// withDefaults fills unset fields and rejects values that cannot work.
func (c Config) withDefaults() (Config, error) {
	if c.URL == "" {
		return c, errors.New("mq: url is required")
	}
	if c.Name == "" || strings.ContainsAny(c.Name, " \t\r\n") {
		return c, fmt.Errorf("mq: invalid name %q", c.Name)
	}
	if c.Prefetch < 0 || c.MaxAttempts < 0 || c.BufferSize < 0 {
		return c, errors.New("mq: prefetch, max attempts and buffer size must not be negative")
	}
	if c.Prefetch == 0 {
		c.Prefetch = defaultPrefetch
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = defaultMaxAttempts
	}
	if c.BufferSize == 0 {
		c.BufferSize = defaultBufferSize
	}
	if len(c.RetryDelays) == 0 {
		c.RetryDelays = defaultRetryDelays()
	} else {
		// a copy, so the caller's slice can change without touching the topology
		c.RetryDelays = slices.Clone(c.RetryDelays)
	}
	for _, d := range c.RetryDelays {
		// the broker counts TTLs in whole milliseconds
		if d < time.Millisecond {
			return c, fmt.Errorf("mq: retry delay %s is below 1ms", d)
		}
	}
	return c, nil
}

// queueSpec is one durable queue bound to the exchange under its own name.
type queueSpec struct {
	name string
	args amqp.Table
}

// topology names everything derived from Config.Name. Every queue is bound
// to the direct exchange with its own name as the routing key.
type topology struct {
	exchange string
	work     string
	parked   string
	delays   []string // delays[i] is the queue that holds a message before attempt i+2
	queues   []queueSpec
}

// newTopology uses one delay queue per distinct delay, each with a queue-wide
// x-message-ttl. Every message in such a queue has the same TTL, so the head
// always expires first and nothing waits behind a longer delay, as it would
// with per-message expiration in one shared queue.
func newTopology(cfg Config) topology {
	t := topology{exchange: cfg.Name, work: cfg.Name, parked: cfg.Name + ".parked"}

	workArgs := amqp.Table{
		// a reject without requeue (or a quorum delivery limit) parks the message
		"x-dead-letter-exchange":    t.exchange,
		"x-dead-letter-routing-key": t.parked,
	}
	parkedArgs := amqp.Table{}
	if cfg.Quorum {
		quorumArgs(workArgs, true)
		quorumArgs(parkedArgs, false)
	}
	t.queues = append(t.queues, queueSpec{name: t.work, args: workArgs}, queueSpec{name: t.parked, args: parkedArgs})

	seen := make(map[string]bool)
	for _, d := range cfg.RetryDelays {
		name := fmt.Sprintf("%s.retry.%dms", cfg.Name, d.Milliseconds())
		t.delays = append(t.delays, name)
		if seen[name] {
			continue
		}
		seen[name] = true
		args := amqp.Table{
			"x-message-ttl":             d.Milliseconds(),
			"x-dead-letter-exchange":    t.exchange,
			"x-dead-letter-routing-key": t.work,
		}
		if cfg.Quorum {
			quorumArgs(args, true)
		}
		t.queues = append(t.queues, queueSpec{name: name, args: args})
	}
	return t
}

// quorumArgs marks a queue as quorum. Quorum queues dead-letter at most once
// by default; at-least-once (which needs reject-publish overflow) keeps a
// message that moves between queues from being lost on the way.
func quorumArgs(args amqp.Table, deadLetters bool) {
	args["x-queue-type"] = "quorum"
	if deadLetters {
		args["x-dead-letter-strategy"] = "at-least-once"
		args["x-overflow"] = "reject-publish"
	}
}

// delayFor is the delay queue for the retry after failed attempt n (n >= 1).
func (t topology) delayFor(attempt int) string {
	i := min(max(attempt-1, 0), len(t.delays)-1)
	return t.delays[i]
}

// Declared names the exchange and the queues that a Broker with cfg
// declares, for clean-up by operators' tools and tests.
func Declared(cfg Config) (exchange string, queues []string, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return "", nil, err
	}
	t := newTopology(cfg)
	for _, q := range t.queues {
		queues = append(queues, q.name)
	}
	return t.exchange, queues, nil
}
