package mq

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap/zaptest"

	"github.com/tiktok-lite/server/test/tcpproxy"
)

const waitLimit = 10 * time.Second

// amqpURL is the test broker, or a skip (a failure when CI=true) when it is
// not reachable.
func amqpURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TIKTOK_TEST_AMQP_URL")
	if u == "" {
		u = "amqp://guest:guest@127.0.0.1:5672/"
	}
	conn, err := amqp.DialConfig(u, amqp.Config{Dial: amqp.DefaultDial(2 * time.Second)})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("rabbitmq not reachable (TIKTOK_TEST_AMQP_URL): %v", err)
		}
		t.Skipf("rabbitmq not reachable (set TIKTOK_TEST_AMQP_URL): %v", err)
	}
	if err := conn.Close(); err != nil {
		t.Fatalf("close probe connection: %v", err)
	}
	return u
}

// testConfig is a config with a unique name and short delays; its topology
// is deleted when the test ends.
func testConfig(t *testing.T, brokerURL string) Config {
	t.Helper()
	cfg := Config{
		URL:         brokerURL,
		Name:        fmt.Sprintf("test.mq.%016x", rand.Uint64()),
		MaxAttempts: 4,
		RetryDelays: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond},
	}
	t.Cleanup(func() { deleteTopology(t, brokerURL, cfg) })
	return cfg
}

func deleteTopology(t *testing.T, brokerURL string, cfg Config) {
	ch := adminChannel(t, brokerURL)
	top := newTopology(cfg)
	for _, q := range top.queues {
		if _, err := ch.QueueDelete(q.name, false, false, false); err != nil {
			t.Errorf("delete queue %s: %v", q.name, err)
			return
		}
	}
	if err := ch.ExchangeDelete(top.exchange, false, false); err != nil {
		t.Errorf("delete exchange %s: %v", top.exchange, err)
	}
}

// adminChannel is a direct channel for inspecting and cleaning up, closed
// with its connection at the end of the test.
func adminChannel(t *testing.T, brokerURL string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(brokerURL)
	if err != nil {
		t.Fatalf("admin dial: %v", err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
			t.Errorf("admin close: %v", err)
		}
	})
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("admin channel: %v", err)
	}
	return ch
}

// depth is the number of ready messages in queue, read with a passive
// declare (which fails when the queue does not exist).
func depth(t *testing.T, brokerURL, queue string) int {
	t.Helper()
	q, err := adminChannel(t, brokerURL).QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("inspect %s: %v", queue, err)
	}
	return q.Messages
}

func viaProxy(t *testing.T, brokerURL, addr string) string {
	t.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatalf("parse url: %v", err)
	}
	u.Host = addr
	return u.String()
}

// running is a Broker whose Run loop belongs to the test.
type running struct {
	*Broker
	stopRun context.CancelFunc
	runDone chan error
	closed  bool // the test called Close itself and checked the result
}

func start(t *testing.T, cfg Config) *running {
	t.Helper()
	b, err := New(cfg, zaptest.NewLogger(t), prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Broker: b, stopRun: cancel, runDone: make(chan error, 1)}
	go func() { r.runDone <- b.Run(ctx) }()
	t.Cleanup(func() {
		r.stop(t)
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		if err := b.Close(cctx); err != nil && !r.closed {
			t.Errorf("close: %v", err)
		}
	})
	return r
}

// stop ends Run and checks that it returned cleanly.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.stopRun()
	select {
	case err, ok := <-r.runDone:
		if ok && err != nil {
			t.Errorf("run: %v", err)
		}
		if ok {
			close(r.runDone)
		}
	case <-time.After(waitLimit):
		t.Fatalf("run did not return")
	}
}

func (r *running) close(t *testing.T, timeout time.Duration) error {
	t.Helper()
	r.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return r.Close(ctx)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitConnected(t *testing.T, b *running) {
	t.Helper()
	waitFor(t, "connection", func() bool {
		return b.Ping(context.Background()) == nil && testutil.ToFloat64(b.m.connected) == 1
	})
}

func waitDisconnected(t *testing.T, b *running) {
	t.Helper()
	waitFor(t, "disconnection", func() bool {
		return errors.Is(b.Ping(context.Background()), ErrNotConnected) && testutil.ToFloat64(b.m.connected) == 0
	})
}

// recorder is a handler that remembers every call; fail decides, from the
// body and the number of earlier calls for it, whether the call fails.
type recorder struct {
	mu       sync.Mutex
	calls    map[string]int
	attempts map[string][]int
	fail     func(body string, call int) error
}

func newRecorder(fail func(body string, call int) error) *recorder {
	if fail == nil {
		fail = func(string, int) error { return nil }
	}
	return &recorder{calls: make(map[string]int), attempts: make(map[string][]int), fail: fail}
}

func (r *recorder) handle(ctx context.Context, body []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := string(body)
	r.calls[key]++
	r.attempts[key] = append(r.attempts[key], Attempt(ctx))
	return r.fail(key, r.calls[key])
}

func (r *recorder) snapshot() (map[string]int, map[string][]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	attempts := make(map[string][]int, len(r.attempts))
	for k, v := range r.attempts {
		attempts[k] = slices.Clone(v)
	}
	calls := make(map[string]int, len(r.calls))
	for k, v := range r.calls {
		calls[k] = v
	}
	return calls, attempts
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func counter(c prometheus.Collector) int {
	return int(testutil.ToFloat64(c))
}

func TestPublishConsumeExactlyOnce(t *testing.T) {
	brokerURL := amqpURL(t)
	cfg := testConfig(t, brokerURL)
	b := start(t, cfg)
	waitConnected(t, b)
	rec := newRecorder(nil)
	b.Consume(t.Context(), rec.handle)

	const n = 100
	want := make(map[string]int, n)
	for i := range n {
		body := fmt.Sprintf("key-%d", i)
		want[body] = 1
		if err := b.Publish(t.Context(), []byte(body)); err != nil {
			t.Fatalf("publish %s: %v", body, err)
		}
	}
	waitFor(t, "all messages", func() bool { return rec.distinct() == n })
	waitFor(t, "all acks", func() bool { return counter(b.m.consumed) == n })
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show up

	calls, _ := rec.snapshot()
	for body, w := range want {
		if got := calls[body]; got != w {
			t.Errorf("%s: delivered %d times, want %d", body, got, w)
		}
	}
	if len(calls) != n {
		t.Errorf("distinct bodies: got %d, want %d", len(calls), n)
	}
	if got := counter(b.m.published); got != n {
		t.Errorf("published_total: got %d, want %d", got, n)
	}
	if got := counter(b.m.retried) + counter(b.m.parked); got != 0 {
		t.Errorf("retried+parked: got %d, want 0", got)
	}

	// closing returns unacked deliveries to the queue, so an empty queue
	// afterwards means every message was acked
	if err := b.close(t, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	for _, q := range []string{cfg.Name, cfg.Name + ".parked"} {
		if got := depth(t, brokerURL, q); got != 0 {
			t.Errorf("%s depth: got %d, want 0", q, got)
		}
	}
}

func TestRetryThenSucceed(t *testing.T) {
	brokerURL := amqpURL(t)
	tests := []struct {
		name     string
		quorum   bool
		failures int
	}{
		{name: "no failure", failures: 0},
		{name: "one failure", failures: 1},
		{name: "three failures", failures: 3},
		{name: "quorum two failures", quorum: true, failures: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, brokerURL)
			cfg.Quorum = tt.quorum
			cfg.MaxAttempts = 5
			b := start(t, cfg)
			waitConnected(t, b)
			rec := newRecorder(func(_ string, call int) error {
				if call <= tt.failures {
					return fmt.Errorf("failure %d", call)
				}
				return nil
			})
			b.Consume(t.Context(), rec.handle)
			if err := b.Publish(t.Context(), []byte("k")); err != nil {
				t.Fatalf("publish: %v", err)
			}
			waitFor(t, "success", func() bool { return counter(b.m.consumed) == 1 })
			time.Sleep(200 * time.Millisecond) // longer than the retry delays

			_, attempts := rec.snapshot()
			var want []int
			for i := 1; i <= tt.failures+1; i++ {
				want = append(want, i)
			}
			if got := attempts["k"]; !slices.Equal(got, want) {
				t.Errorf("attempts: got %v, want %v", got, want)
			}
			if got := counter(b.m.retried); got != tt.failures {
				t.Errorf("retried_total: got %d, want %d", got, tt.failures)
			}
			if got := counter(b.m.parked); got != 0 {
				t.Errorf("parked_total: got %d, want 0", got)
			}
			if err := b.close(t, 5*time.Second); err != nil {
				t.Fatalf("close: %v", err)
			}
			for _, q := range newTopology(cfg).queues {
				if got := depth(t, brokerURL, q.name); got != 0 {
					t.Errorf("%s depth: got %d, want 0", q.name, got)
				}
			}
		})
	}
}

// away is a handler's error for a dependency that does not answer.
type away struct{}

func (away) Error() string     { return "redis does not answer" }
func (away) Unavailable() bool { return true }

// A handler whose dependency is away (an outage longer than every retry)
// does not use up the message's attempts: with MaxAttempts 3 it fails six
// times, as unavailable, then succeeds; nothing is parked and every try was
// the first attempt.
func TestUnavailableIsNeverParked(t *testing.T) {
	brokerURL := amqpURL(t)
	cfg := testConfig(t, brokerURL)
	cfg.MaxAttempts = 3
	b := start(t, cfg)
	waitConnected(t, b)
	rec := newRecorder(func(_ string, call int) error {
		if call <= 6 {
			return fmt.Errorf("delete: %w", away{})
		}
		return nil
	})
	b.Consume(t.Context(), rec.handle)
	if err := b.Publish(t.Context(), []byte("during an outage")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	waitFor(t, "the delete after the outage", func() bool { return counter(b.m.consumed) == 1 })
	if got := counter(b.m.parked); got != 0 {
		t.Errorf("parked_total: got %d, want 0", got)
	}
	if _, attempts := rec.snapshot(); !slices.Equal(attempts["during an outage"], []int{1, 1, 1, 1, 1, 1, 1}) {
		t.Errorf("attempts: got %v, want the first, seven times", attempts["during an outage"])
	}
	if err := b.close(t, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func TestParkAfterMaxAttempts(t *testing.T) {
	brokerURL := amqpURL(t)
	for _, quorum := range []bool{false, true} {
		t.Run(fmt.Sprintf("quorum=%v", quorum), func(t *testing.T) {
			cfg := testConfig(t, brokerURL)
			cfg.Quorum = quorum
			cfg.MaxAttempts = 3
			b := start(t, cfg)
			waitConnected(t, b)
			rec := newRecorder(func(string, int) error { return errors.New("redis down") })
			b.Consume(t.Context(), rec.handle)
			if err := b.Publish(t.Context(), []byte("poison")); err != nil {
				t.Fatalf("publish: %v", err)
			}
			waitFor(t, "parking", func() bool { return counter(b.m.parked) == 1 })
			time.Sleep(200 * time.Millisecond) // a parked message must not come back

			_, attempts := rec.snapshot()
			if got, want := attempts["poison"], []int{1, 2, 3}; !slices.Equal(got, want) {
				t.Errorf("attempts: got %v, want %v", got, want)
			}
			if got := counter(b.m.retried); got != 2 {
				t.Errorf("retried_total: got %d, want 2", got)
			}
			if err := b.close(t, 5*time.Second); err != nil {
				t.Fatalf("close: %v", err)
			}
			if got := depth(t, brokerURL, cfg.Name); got != 0 {
				t.Errorf("work depth: got %d, want 0", got)
			}

			d, ok, err := adminChannel(t, brokerURL).Get(cfg.Name+".parked", true)
			if err != nil || !ok {
				t.Fatalf("get parked: ok=%v err=%v, want a message", ok, err)
			}
			if got := string(d.Body); got != "poison" {
				t.Errorf("parked body: got %q, want %q", got, "poison")
			}
			if got := attemptOf(d.Headers); got != 3 {
				t.Errorf("parked attempt header: got %d, want 3", got)
			}
			if got, _ := d.Headers[headerError].(string); !strings.Contains(got, "redis down") {
				t.Errorf("parked error header: got %q, want it to contain %q", got, "redis down")
			}
			if d.DeliveryMode != amqp.Persistent {
				t.Errorf("parked delivery mode: got %d, want %d", d.DeliveryMode, amqp.Persistent)
			}
		})
	}
}

func TestRedeliveryWhenConsumerDies(t *testing.T) {
	brokerURL := amqpURL(t)

	t.Run("context cancelled in handler", func(t *testing.T) {
		cfg := testConfig(t, brokerURL)
		b := start(t, cfg)
		waitConnected(t, b)
		if err := b.Publish(t.Context(), []byte("k")); err != nil {
			t.Fatalf("publish: %v", err)
		}

		first, cancelFirst := context.WithCancel(t.Context())
		entered := make(chan struct{})
		var once sync.Once
		b.Consume(first, func(ctx context.Context, _ []byte) error {
			once.Do(func() { close(entered) })
			cancelFirst()
			<-ctx.Done()
			return ctx.Err()
		})
		select {
		case <-entered:
		case <-time.After(waitLimit):
			t.Fatalf("first consumer never got the message")
		}

		rec := newRecorder(nil)
		b.Consume(t.Context(), rec.handle)
		waitFor(t, "redelivery", func() bool { return counter(b.m.consumed) == 1 })
		_, attempts := rec.snapshot()
		if got, want := attempts["k"], []int{1}; !slices.Equal(got, want) {
			t.Errorf("second consumer attempts: got %v, want %v", got, want)
		}
		if got := counter(b.m.retried); got != 0 {
			t.Errorf("retried_total: got %d, want 0 (a stopping consumer requeues)", got)
		}
	})

	t.Run("connection cut before ack", func(t *testing.T) {
		cfg := testConfig(t, brokerURL)
		p := tcpproxy.Start(t, mustHost(t, brokerURL))
		cfg.URL = viaProxy(t, brokerURL, p.Addr())
		b := start(t, cfg)
		waitConnected(t, b)
		if err := b.Publish(t.Context(), []byte("k")); err != nil {
			t.Fatalf("publish: %v", err)
		}
		rec := newRecorder(func(_ string, call int) error {
			if call == 1 {
				p.Cut() // the work is done but the ack can no longer reach the broker
			}
			return nil
		})
		b.Consume(t.Context(), rec.handle)
		waitFor(t, "first delivery", func() bool { return rec.distinct() == 1 })
		waitDisconnected(t, b)
		p.Restore()
		waitFor(t, "second delivery", func() bool {
			calls, _ := rec.snapshot()
			return calls["k"] == 2
		})
		_, attempts := rec.snapshot()
		if got, want := attempts["k"], []int{1, 1}; !slices.Equal(got, want) {
			t.Errorf("attempts: got %v, want %v", got, want)
		}
		if err := b.close(t, 5*time.Second); err != nil {
			t.Fatalf("close: %v", err)
		}
		if got := depth(t, brokerURL, cfg.Name); got != 0 {
			t.Errorf("work depth: got %d, want 0", got)
		}
	})
}

func mustHost(t *testing.T, brokerURL string) string {
	t.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatalf("parse url: %v", err)
	}
	if u.Port() == "" {
		return u.Hostname() + ":5672"
	}
	return u.Host
}

// cutBroker starts a broker behind a proxy and cuts the link.
func cutBroker(t *testing.T, cfg Config, brokerURL string) (*running, *tcpproxy.Proxy) {
	t.Helper()
	p := tcpproxy.Start(t, mustHost(t, brokerURL))
	cfg.URL = viaProxy(t, brokerURL, p.Addr())
	b := start(t, cfg)
	waitConnected(t, b)
	p.Cut()
	waitDisconnected(t, b)
	return b, p
}

func TestPublishWhileCut(t *testing.T) {
	brokerURL := amqpURL(t)
	cfg := testConfig(t, brokerURL)
	b, p := cutBroker(t, cfg, brokerURL)
	rec := newRecorder(nil)
	b.Consume(t.Context(), rec.handle)

	const n = 5
	for i := range n {
		if err := b.Publish(t.Context(), fmt.Appendf(nil, "cut-%d", i)); err != nil {
			t.Fatalf("publish %d while cut: got %v, want nil", i, err)
		}
	}
	if got := b.Pending(); got != n {
		t.Fatalf("pending while cut: got %d, want %d", got, n)
	}
	if got := int(testutil.ToFloat64(b.m.buffered)); got != n {
		t.Fatalf("buffered gauge: got %d, want %d", got, n)
	}

	p.Restore()
	waitFor(t, "buffered messages to arrive", func() bool { return rec.distinct() == n })
	waitFor(t, "empty buffer", func() bool { return b.Pending() == 0 })
	if got := testutil.ToFloat64(b.m.connected); got != 1 {
		t.Errorf("connected gauge after restore: got %v, want 1", got)
	}
	if got := testutil.ToFloat64(b.m.buffered); got != 0 {
		t.Errorf("buffered gauge after restore: got %v, want 0", got)
	}
}

func TestBufferFull(t *testing.T) {
	brokerURL := amqpURL(t)
	cfg := testConfig(t, brokerURL)
	cfg.BufferSize = 2
	b, p := cutBroker(t, cfg, brokerURL)

	for _, tt := range []struct {
		body string
		want error
	}{
		{"a", nil},
		{"b", nil},
		{"c", ErrBufferFull},
	} {
		if err := b.Publish(t.Context(), []byte(tt.body)); !errors.Is(err, tt.want) {
			t.Fatalf("publish %s: got %v, want %v", tt.body, err, tt.want)
		}
	}
	if got := b.Pending(); got != 2 {
		t.Fatalf("pending: got %d, want 2", got)
	}

	rec := newRecorder(nil)
	b.Consume(t.Context(), rec.handle)
	p.Restore()
	waitFor(t, "buffered messages", func() bool { return counter(b.m.consumed) == 2 })
	time.Sleep(100 * time.Millisecond)
	calls, _ := rec.snapshot()
	if want := map[string]int{"a": 1, "b": 1}; fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("delivered: got %v, want %v", calls, want)
	}
}

func TestCloseFlushes(t *testing.T) {
	brokerURL := amqpURL(t)

	t.Run("while run is active", func(t *testing.T) {
		cfg := testConfig(t, brokerURL)
		b, p := cutBroker(t, cfg, brokerURL)
		publishN(t, b, 3)
		p.Restore()
		if err := b.close(t, 5*time.Second); err != nil {
			t.Fatalf("close: %v", err)
		}
		checkFlushed(t, b, brokerURL, cfg.Name, 3)
	})

	t.Run("after run returned", func(t *testing.T) {
		cfg := testConfig(t, brokerURL)
		b, p := cutBroker(t, cfg, brokerURL)
		publishN(t, b, 3)
		b.stop(t)
		p.Restore()
		if err := b.close(t, 5*time.Second); err != nil {
			t.Fatalf("close: %v", err)
		}
		checkFlushed(t, b, brokerURL, cfg.Name, 3)
	})

	t.Run("broker unreachable", func(t *testing.T) {
		cfg := testConfig(t, brokerURL)
		b, _ := cutBroker(t, cfg, brokerURL)
		publishN(t, b, 2)
		err := b.close(t, 300*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "2 messages not flushed") {
			t.Fatalf("close: got %v, want an error naming 2 messages", err)
		}
	})
}

func publishN(t *testing.T, b *running, n int) {
	t.Helper()
	for i := range n {
		if err := b.Publish(t.Context(), fmt.Appendf(nil, "m-%d", i)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if got := b.Pending(); got != n {
		t.Fatalf("pending: got %d, want %d", got, n)
	}
}

func checkFlushed(t *testing.T, b *running, brokerURL, queue string, want int) {
	t.Helper()
	if got := b.Pending(); got != 0 {
		t.Errorf("pending after close: got %d, want 0", got)
	}
	if got := depth(t, brokerURL, queue); got != want {
		t.Errorf("%s depth after close: got %d, want %d", queue, got, want)
	}
	if got := testutil.ToFloat64(b.m.connected); got != 0 {
		t.Errorf("connected gauge after close: got %v, want 0", got)
	}
}

func TestDeclareTwice(t *testing.T) {
	brokerURL := amqpURL(t)
	for _, quorum := range []bool{false, true} {
		t.Run(fmt.Sprintf("quorum=%v", quorum), func(t *testing.T) {
			cfg := testConfig(t, brokerURL)
			cfg.Quorum = quorum
			first := start(t, cfg)
			waitConnected(t, first)
			second := start(t, cfg)
			waitConnected(t, second)

			rec := newRecorder(nil)
			first.Consume(t.Context(), rec.handle)
			if err := second.Publish(t.Context(), []byte("k")); err != nil {
				t.Fatalf("publish: %v", err)
			}
			waitFor(t, "delivery across brokers", func() bool { return counter(first.m.consumed) == 1 })
		})
	}
}

// A broker that goes silent is reported down by Ping within its context's
// time, and Enqueue never waits for it; what was enqueued arrives once the
// broker answers again.
func TestSilentBroker(t *testing.T) {
	brokerURL := amqpURL(t)
	cfg := testConfig(t, brokerURL)
	p := tcpproxy.Start(t, mustHost(t, brokerURL))
	cfg.URL = viaProxy(t, brokerURL, p.Addr())
	b := start(t, cfg)
	waitConnected(t, b)
	rec := newRecorder(nil)
	b.Consume(t.Context(), rec.handle)

	p.Blackhole()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	start := time.Now()
	err := b.Ping(ctx)
	cancel()
	if err == nil {
		t.Fatal("Ping answered ok while the broker is silent")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Ping took %v, want about its 1s context", took)
	}
	const n = 20
	start = time.Now()
	for i := range n {
		if err := b.Enqueue(t.Context(), fmt.Appendf(nil, "silent-%d", i)); err != nil {
			t.Fatalf("enqueue %d: %v", i, err)
		}
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("%d enqueues to a silent broker took %v, want no wait", n, took)
	}

	p.Restore()
	waitFor(t, "enqueued messages to arrive", func() bool { return rec.distinct() == n })
}
