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
	stale   *model.Stale // what its transaction recorded as stale
}

// batchWrites returns a combiner that applies changes with apply in one
// transaction, with the keys staleOf names for the changes that changed
// something recorded as stale in it (see writeTx). If that transaction
// fails, each change is retried in its own, so that one failing change
// (an account just deleted, say) fails alone.
//
// Each transaction's stale keys are invalidated once it has committed and
// before any caller has its answer. That belongs to the batch, not to the
// caller: a caller that hung up while its change waited still gets its
// change made visible, and a retry that finds "nothing changed" has
// nothing left to do.
func batchWrites[C any](store Store, inv Invalidator, apply applyFunc[C], staleOf func([]C) []string) *batch.Combiner[C, outcome] {
	run := func(ctx context.Context, changes []C) []outcome {
		return outcomes(ctx, store, inv, apply, staleOf, changes)
	}
	settle := func(ctx context.Context, _ []C, out []outcome) {
		var last *model.Stale
		for _, o := range out {
			if o.stale != nil && o.stale != last {
				inv.Invalidate(ctx, *o.stale)
				last = o.stale
			}
		}
	}
	return batch.New(run, maxBatch, batchTimeout).Settle(settle)
}

func outcomes[C any](ctx context.Context, store Store, inv Invalidator, apply applyFunc[C], staleOf func([]C) []string, changes []C) []outcome {
	out := make([]outcome, len(changes))
	changed, stale, err := commit(ctx, store, inv, apply, staleOf, changes)
	if err == nil {
		for i := range out {
			out[i].changed = changed[i]
			out[i].stale = stale
		}
		return out
	}
	if len(changes) == 1 || unknownOutcome(err) {
		// Past the deadline there is no time for one transaction each.
		for i := range out {
			out[i].err = err
			out[i].stale = stale
		}
		return out
	}
	for i := range changes {
		one, stale, err := commit(ctx, store, inv, apply, staleOf, changes[i:i+1])
		out[i].err = err
		out[i].changed = err == nil && one[0]
		out[i].stale = stale
	}
	return out
}

// commit applies changes in one transaction; stale is nil when none
// changed anything, and also set when the deadline left the outcome
// unknown (see unknownOutcome).
func commit[C any](ctx context.Context, store Store, inv Invalidator, apply applyFunc[C], staleOf func([]C) []string, changes []C) (changed []bool, stale *model.Stale, err error) {
	st, err := recordTx(ctx, store, inv, func(tx *model.Store) ([]string, error) {
		var err error
		if changed, err = apply(ctx, tx, changes); err != nil {
			return nil, err
		}
		var made []C
		for i, c := range changes {
			if changed[i] {
				made = append(made, c)
			}
		}
		if len(made) == 0 {
			return nil, nil
		}
		return staleOf(made), nil
	})
	if len(st.Keys) > 0 {
		stale = &st
	}
	if err != nil {
		return nil, stale, err
	}
	return changed, stale, nil
}

func applyLikes(ctx context.Context, tx *model.Store, changes []model.LikeChange) ([]bool, error) {
	return tx.ApplyLikes(ctx, changes)
}

func applyFollows(ctx context.Context, tx *model.Store, changes []model.FollowChange) ([]bool, error) {
	return tx.ApplyFollows(ctx, changes)
}
