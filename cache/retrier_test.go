package cache

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
)

// A retried delete that fails only because Redis is away uses up none of
// its attempts: with two allowed it fails five times so, then lands, and
// nothing is given up.
func TestLocalRetrierOutlastsAnOutage(t *testing.T) {
	r, err := NewLocalRetrier(10, 2, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	landed := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx, func(context.Context, []byte) error {
		if calls.Add(1) <= 5 {
			return redisAway{errors.New("dial tcp: connection refused")}
		}
		close(landed)
		return nil
	})
	if err := r.Enqueue(ctx, []byte(`["k"]`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-landed:
	case <-time.After(10 * time.Second):
		t.Fatalf("the delete did not land after the outage: %d calls", calls.Load())
	}
	if got := testutil.ToFloat64(r.parked); got != 0 {
		t.Errorf("given up: %v, want 0", got)
	}
}
