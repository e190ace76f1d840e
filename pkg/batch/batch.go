// Package batch commits many callers' small writes together. While one
// batch runs, the writes that arrive queue up, and the next batch takes
// them all: a lone write runs at once, and under load each transaction
// carries more writes instead of more transactions queueing on the same
// hot rows.
package batch

import (
	"context"
	"sync"
	"time"
)

// Combiner runs ops through run in batches of at most max. run returns
// one result per op, in order.
type Combiner[Op, Res any] struct {
	run    func(ctx context.Context, ops []Op) []Res
	settle func(ctx context.Context, ops []Op, res []Res)
	max    int
	limit  time.Duration

	mu    sync.Mutex
	queue []*call[Op, Res]
	busy  bool // a goroutine is running batches
}

type call[Op, Res any] struct {
	ctx  context.Context
	op   Op
	res  Res
	done chan struct{} // closed with the result
}

// New returns a combiner over run. A batch's context carries no caller's
// cancellation (one client leaving must not undo the others' writes); its
// deadline is the latest of its callers', and at most limit away.
func New[Op, Res any](run func(ctx context.Context, ops []Op) []Res, max int, limit time.Duration) *Combiner[Op, Res] {
	return &Combiner[Op, Res]{run: run, max: max, limit: limit}
}

// Settle sets what must happen after a batch has run and before its
// callers have their results (making committed changes visible, say). It
// runs on a goroutine of its own, so the next batch need not wait for it.
// Call it before the first Do.
func (b *Combiner[Op, Res]) Settle(settle func(ctx context.Context, ops []Op, res []Res)) *Combiner[Op, Res] {
	b.settle = settle
	return b
}

// Do runs op, alone or with others that arrive meanwhile, and returns its
// result. Batches run on a goroutine of their own while callers wait, so
// each caller is answered within its own deadline, not that of the batch:
// a caller whose ctx ends first gets ctx's error at once, and its op may
// still be applied; the answer to a write that timed out is "unknown".
func (b *Combiner[Op, Res]) Do(ctx context.Context, op Op) (Res, error) {
	c := &call[Op, Res]{ctx: ctx, op: op, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if !b.busy {
		b.busy = true
		go b.drain()
	}
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.res, nil
	case <-ctx.Done():
		var zero Res
		return zero, ctx.Err()
	}
}

// drain runs batches until the queue is empty.
func (b *Combiner[Op, Res]) drain() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), b.max)
		if n == 0 {
			b.busy = false
			b.mu.Unlock()
			return
		}
		batch := make([]*call[Op, Res], n)
		copy(batch, b.queue)
		b.queue = append(b.queue[:0:0], b.queue[n:]...)
		b.mu.Unlock()
		b.runBatch(batch)
	}
}

func (b *Combiner[Op, Res]) runBatch(batch []*call[Op, Res]) {
	ops := make([]Op, len(batch))
	latest := time.Now().Add(b.limit)
	deadline := time.Time{}
	for i, c := range batch {
		ops[i] = c.op
		d, ok := c.ctx.Deadline()
		if !ok { // a caller without a deadline waits as long as allowed
			d = latest
		}
		if d.After(deadline) {
			deadline = d
		}
	}
	if deadline.After(latest) {
		deadline = latest
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(batch[0].ctx), deadline)
	res := b.run(ctx, ops)
	answer := func() {
		cancel()
		for i, c := range batch {
			c.res = res[i]
			close(c.done)
		}
	}
	if b.settle == nil {
		answer()
		return
	}
	go func() {
		b.settle(ctx, ops, res)
		answer()
	}()
}
