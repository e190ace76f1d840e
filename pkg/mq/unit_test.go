package mq

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	amqp "github.com/rabbitmq/amqp091-go"
)

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		want    Config
		wantErr bool
	}{
		{
			name: "defaults",
			cfg:  Config{URL: "amqp://x/", Name: "a"},
			want: Config{URL: "amqp://x/", Name: "a", Prefetch: 32, MaxAttempts: 8, BufferSize: 10000, RetryDelays: defaultRetryDelays()},
		},
		{
			name: "kept",
			cfg:  Config{URL: "amqp://x/", Name: "a", Quorum: true, Prefetch: 1, MaxAttempts: 2, BufferSize: 3, RetryDelays: []time.Duration{time.Millisecond}},
			want: Config{URL: "amqp://x/", Name: "a", Quorum: true, Prefetch: 1, MaxAttempts: 2, BufferSize: 3, RetryDelays: []time.Duration{time.Millisecond}},
		},
		{name: "no url", cfg: Config{Name: "a"}, wantErr: true},
		{name: "no name", cfg: Config{URL: "amqp://x/"}, wantErr: true},
		{name: "space in name", cfg: Config{URL: "amqp://x/", Name: "a b"}, wantErr: true},
		{name: "negative prefetch", cfg: Config{URL: "amqp://x/", Name: "a", Prefetch: -1}, wantErr: true},
		{name: "sub-millisecond delay", cfg: Config{URL: "amqp://x/", Name: "a", RetryDelays: []time.Duration{time.Microsecond}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.withDefaults()
			if (err != nil) != tt.wantErr {
				t.Fatalf("error: got %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got.URL != tt.want.URL || got.Name != tt.want.Name || got.Quorum != tt.want.Quorum ||
				got.Prefetch != tt.want.Prefetch || got.MaxAttempts != tt.want.MaxAttempts ||
				got.BufferSize != tt.want.BufferSize || !slices.Equal(got.RetryDelays, tt.want.RetryDelays) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTopology(t *testing.T) {
	cfg := Config{Name: "s", RetryDelays: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}}
	top := newTopology(cfg)

	var names []string
	for _, q := range top.queues {
		names = append(names, q.name)
	}
	wantNames := []string{"s", "s.parked", "s.retry.50ms", "s.retry.100ms"}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("queues: got %v, want %v", names, wantNames)
	}

	for _, tt := range []struct {
		attempt int
		want    string
	}{
		{0, "s.retry.50ms"},
		{1, "s.retry.50ms"},
		{2, "s.retry.100ms"},
		{3, "s.retry.100ms"},
		{50, "s.retry.100ms"},
	} {
		if got := top.delayFor(tt.attempt); got != tt.want {
			t.Errorf("delayFor(%d): got %s, want %s", tt.attempt, got, tt.want)
		}
	}

	delay := top.queues[2].args
	if got, want := delay["x-message-ttl"], int64(50); got != want {
		t.Errorf("delay ttl: got %v, want %v", got, want)
	}
	if got, want := delay["x-dead-letter-routing-key"], "s"; got != want {
		t.Errorf("delay dead-letter key: got %v, want %v", got, want)
	}
	if got, want := top.queues[0].args["x-dead-letter-routing-key"], "s.parked"; got != want {
		t.Errorf("work dead-letter key: got %v, want %v", got, want)
	}
	if _, ok := delay["x-queue-type"]; ok {
		t.Errorf("classic delay queue has x-queue-type")
	}

	cfg.Quorum = true
	for _, q := range newTopology(cfg).queues {
		if got := q.args["x-queue-type"]; got != "quorum" {
			t.Errorf("quorum %s: x-queue-type got %v, want quorum", q.name, got)
		}
	}
}

func TestAttemptOf(t *testing.T) {
	tests := []struct {
		name    string
		headers amqp.Table
		want    int
	}{
		{"missing", nil, 1},
		{"int32", amqp.Table{headerAttempt: int32(3)}, 3},
		{"int64", amqp.Table{headerAttempt: int64(4)}, 4},
		{"uint8", amqp.Table{headerAttempt: uint8(2)}, 2},
		{"zero", amqp.Table{headerAttempt: int32(0)}, 1},
		{"negative", amqp.Table{headerAttempt: int64(-5)}, 1},
		{"string", amqp.Table{headerAttempt: "7"}, 1},
	}
	for _, tt := range tests {
		if got := attemptOf(tt.headers); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestAttemptContext(t *testing.T) {
	if got := Attempt(context.Background()); got != 0 {
		t.Errorf("outside a handler: got %d, want 0", got)
	}
	ctx := context.WithValue(context.Background(), attemptKey{}, 3)
	if got := Attempt(ctx); got != 3 {
		t.Errorf("inside a handler: got %d, want 3", got)
	}
}

func TestBuffer(t *testing.T) {
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g"})
	q := newBuffer(3, gauge)
	body := []byte("a")
	for i := range 3 {
		if !q.push(message{body: body}) {
			t.Fatalf("push %d: got full, want room", i)
		}
	}
	body[0] = 'z' // the buffer keeps its own copy
	if q.push(message{body: []byte("d")}) {
		t.Fatalf("push beyond limit: got accepted, want full")
	}

	batch := q.take(2)
	if len(batch) != 2 || string(batch[0].body) != "a" {
		t.Fatalf("take: got %q, want two copies of %q", batch, "a")
	}
	if got := q.len(); got != 3 {
		t.Fatalf("len with two in flight: got %d, want 3", got)
	}
	if q.push(message{body: []byte("e")}) {
		t.Fatalf("push while in flight fills the buffer: got accepted, want full")
	}

	q.release(2, batch[1:])
	if got := q.len(); got != 2 {
		t.Fatalf("len after one confirmed: got %d, want 2", got)
	}
	if got := testutil.ToFloat64(gauge); got != 2 {
		t.Fatalf("gauge: got %v, want 2", got)
	}
	if got := q.take(10); len(got) != 2 {
		t.Fatalf("take rest: got %d, want 2", len(got))
	}
	q.release(2, nil)
	if got := q.len(); got != 0 {
		t.Fatalf("len after all confirmed: got %d, want 0", got)
	}
}

func TestBackoff(t *testing.T) {
	prevMax := time.Duration(0)
	for n := 1; n <= 12; n++ {
		want := min(backoffMin<<min(n-1, 20), backoffMax)
		got := backoff(n)
		if got < want/2 || got > want {
			t.Errorf("backoff(%d): got %s, want within [%s, %s]", n, got, want/2, want)
		}
		prevMax = max(prevMax, got)
	}
	if prevMax > backoffMax {
		t.Errorf("backoff exceeded the cap: %s > %s", prevMax, backoffMax)
	}
}

func TestNewDoesNotDial(t *testing.T) {
	reg := prometheus.NewRegistry()
	b, err := New(Config{URL: "amqp://guest:guest@127.0.0.1:1/", Name: "unit.nodial"}, nil, reg)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	if err := b.Ping(context.Background()); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("ping: got %v, want ErrNotConnected", err)
	}
	if err := b.Publish(context.Background(), []byte("x")); err != nil {
		t.Fatalf("publish while never connected: got %v, want nil", err)
	}
	if got := b.Pending(); got != 1 {
		t.Fatalf("pending: got %d, want 1", got)
	}

	names := []string{
		"tiktok_mq_published_total", "tiktok_mq_consumed_total", "tiktok_mq_retried_total",
		"tiktok_mq_parked_total", "tiktok_mq_publish_failures_total", "tiktok_mq_buffered", "tiktok_mq_connected",
	}
	n, err := testutil.GatherAndCount(reg, names...)
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	if n != len(names) {
		t.Fatalf("registered metrics: got %d, want %d", n, len(names))
	}
	if got := testutil.ToFloat64(b.m.buffered); got != 1 {
		t.Fatalf("buffered gauge: got %v, want 1", got)
	}

	// a second broker for the same stream shares the series
	if _, err := New(Config{URL: "amqp://x/", Name: "unit.nodial"}, nil, reg); err != nil {
		t.Fatalf("second broker on one registry: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = b.Close(ctx)
	if err == nil {
		t.Fatalf("close with an unreachable broker: got nil, want an error naming 1 message")
	}
	if want := "1 messages not flushed"; !strings.Contains(err.Error(), want) {
		t.Fatalf("close error: got %q, want it to contain %q", err, want)
	}
	if err := b.Publish(context.Background(), []byte("y")); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: got %v, want ErrClosed", err)
	}
	if err := b.Run(context.Background()); err == nil {
		t.Fatalf("run after close: got nil, want an error")
	}
}
