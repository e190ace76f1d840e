package service

import (
	"context"
	"time"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/batch"
)

// Likes and follows are committed in batches (see package batch): on a
// popular video or author each write would otherwise wait for the row
// lock of the one before it, and the rate of writes would be the rate of
// commits on that row.

// maxBatch bounds the changes in one transaction, and so how long it
// holds its locks.
const maxBatch = 128

// batchTimeout bounds one batch's transaction when its callers set no
// deadline; otherwise the latest of theirs does (see batch.New).
const batchTimeout = 10 * time.Second

// applyFunc applies changes inside the transaction tx and reports which
// of them changed something.
type applyFunc[C any] func(ctx context.Context, tx *model.Store, changes []C) ([]bool, error)

// outcome is one change's result within a batch.
type outcome struct {
	changed bool
	err     error
}

// batchWrites returns a combiner that applies changes with apply in one
// transaction. If that transaction fails, each change is retried in its
// own, so that one failing change (an account just deleted, say) fails
// alone.
//
// committed runs with every change that changed something, once their
// transaction has committed and before any caller has its answer. It
// belongs to the batch, not to the caller: a caller that hung up while
// its change waited still gets its change made visible (its cache keys
// invalidated), and a retry that finds "nothing changed" has nothing left
// to do.
func batchWrites[C any](store Store, apply applyFunc[C], committed func(ctx context.Context, changes []C)) *batch.Combiner[C, outcome] {
	run := func(ctx context.Context, changes []C) []outcome { return outcomes(ctx, store, apply, changes) }
	settle := func(ctx context.Context, changes []C, out []outcome) {
		var changed []C
		for i, o := range out {
			if o.changed {
				changed = append(changed, changes[i])
			}
		}
		if len(changed) > 0 {
			committed(ctx, changed)
		}
	}
	return batch.New(run, maxBatch, batchTimeout).Settle(settle)
}

func outcomes[C any](ctx context.Context, store Store, apply applyFunc[C], changes []C) []outcome {
	out := make([]outcome, len(changes))
	changed, err := commit(ctx, store, apply, changes)
	if err == nil {
		for i := range out {
			out[i].changed = changed[i]
		}
		return out
	}
	if len(changes) == 1 {
		out[0].err = err
		return out
	}
	for i := range changes {
		one, err := commit(ctx, store, apply, changes[i:i+1])
		out[i].err = err
		out[i].changed = err == nil && one[0]
	}
	return out
}

func commit[C any](ctx context.Context, store Store, apply applyFunc[C], changes []C) ([]bool, error) {
	var changed []bool
	err := store.Tx(ctx, func(tx *model.Store) error {
		var err error
		changed, err = apply(ctx, tx, changes)
		return err
	})
	return changed, err
}

func applyLikes(ctx context.Context, tx *model.Store, changes []model.LikeChange) ([]bool, error) {
	return tx.ApplyLikes(ctx, changes)
}

func applyFollows(ctx context.Context, tx *model.Store, changes []model.FollowChange) ([]bool, error) {
	return tx.ApplyFollows(ctx, changes)
}
