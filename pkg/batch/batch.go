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
	run   func(ctx context.Context, ops []Op) []Res
	max   int
	limit time.Duration

	mu    sync.Mutex
	queue []*call[Op, Res]
	busy  bool // a leader is running a batch
}

type call[Op, Res any] struct {
	ctx  context.Context
	op   Op
	res  Res
	lead bool          // woken to run the next batch rather than with a result
	done chan struct{} // closed once: with the result, or to lead
}

// New returns a combiner over run. A batch's context carries no caller's
// cancellation (one client leaving must not undo the others' writes); its
// deadline is the latest of its callers', and at most limit away.
func New[Op, Res any](run func(ctx context.Context, ops []Op) []Res, max int, limit time.Duration) *Combiner[Op, Res] {
	return &Combiner[Op, Res]{run: run, max: max, limit: limit}
}

// Do runs op, alone or with others that arrive meanwhile, and returns its
// result. The caller whose op opens a batch runs it on its own goroutine;
// when it is done it hands the next batch to the first caller waiting. A
// caller whose ctx ends first gets ctx's error, and its op may still be
// applied: the answer to a write that timed out is "unknown".
func (b *Combiner[Op, Res]) Do(ctx context.Context, op Op) (Res, error) {
	c := &call[Op, Res]{ctx: ctx, op: op, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if b.busy {
		b.mu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			// Someone must still lead if this call is handed the next batch.
			go func() {
				<-c.done
				if c.lead {
					b.lead()
				}
			}()
			var zero Res
			return zero, ctx.Err()
		}
		if !c.lead {
			return c.res, nil
		}
	} else {
		b.busy = true
		b.mu.Unlock()
	}
	b.lead() // c is at the head of the queue
	return c.res, nil
}

func (b *Combiner[Op, Res]) lead() {
	b.mu.Lock()
	n := min(len(b.queue), b.max)
	batch := make([]*call[Op, Res], n)
	copy(batch, b.queue)
	b.queue = append(b.queue[:0:0], b.queue[n:]...)
	b.mu.Unlock()

	ops := make([]Op, n)
	deadline := time.Time{}
	for i, c := range batch {
		ops[i] = c.op
		if d, ok := c.ctx.Deadline(); ok && d.After(deadline) {
			deadline = d
		}
	}
	if latest := time.Now().Add(b.limit); deadline.IsZero() || deadline.After(latest) {
		deadline = latest
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(batch[0].ctx), deadline)
	res := b.run(ctx, ops)
	cancel()
	for i, c := range batch {
		c.res = res[i]
	}

	b.mu.Lock()
	if len(b.queue) > 0 {
		next := b.queue[0]
		next.lead = true
		close(next.done)
	} else {
		b.busy = false
	}
	b.mu.Unlock()
	// batch[0] is the leader: it reads its result without waiting.
	for _, c := range batch[1:] {
		close(c.done)
	}
}
