package tcpproxy

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tiktok-lite/server/test/testenv"
)

// TestBlackhole checks the proxy itself against a real Redis: it passes
// commands, a black hole makes a client time out rather than fail, a cut
// fails it at once, and after Restore a fresh client works again.
func TestBlackhole(t *testing.T) {
	p := Start(t, testenv.RedisAddr(t))
	ping := func(timeout time.Duration) (time.Duration, error) {
		rdb := redis.NewClient(&redis.Options{Addr: p.Addr(), DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, MaxRetries: -1})
		defer rdb.Close()
		begin := time.Now()
		err := rdb.Ping(context.Background()).Err()
		return time.Since(begin), err
	}
	if _, err := ping(2 * time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Blackhole()
	took, err := ping(300 * time.Millisecond)
	var nerr net.Error
	if err == nil || !errors.As(err, &nerr) || !nerr.Timeout() {
		t.Errorf("in the black hole: ping = %v after %s, want a time-out", err, took)
	}
	if took < 250*time.Millisecond {
		t.Errorf("in the black hole: ping failed after %s, want it to wait for its time-out", took)
	}
	p.Cut()
	if took, err := ping(2 * time.Second); err == nil || took > time.Second {
		t.Errorf("cut: ping = %v after %s, want a failure at once", err, took)
	}
	p.Restore()
	if _, err := ping(2 * time.Second); err != nil {
		t.Errorf("restored: %v", err)
	}
}
