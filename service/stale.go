package service

import (
	"context"
	"errors"

	"github.com/tiktok-lite/server/model"
)

// writeTx runs fn in one transaction and records the keys fn returns as
// stale in that same transaction; once it has committed, they are
// invalidated before writeTx returns. Invalidation thus belongs to the
// commit: a crash between the two leaves the keys recorded for the next
// start to delete.
func writeTx(ctx context.Context, store Store, inv Invalidator, fn func(tx *model.Store) (stale []string, err error)) error {
	var st model.Stale
	err := store.Tx(ctx, func(tx *model.Store) error {
		keys, err := fn(tx)
		if err != nil || len(keys) == 0 {
			st = model.Stale{}
			return err
		}
		st, err = inv.Record(ctx, tx, keys)
		return err
	})
	if err != nil && !unknownOutcome(err) {
		return err
	}
	if len(st.Keys) > 0 {
		inv.Invalidate(ctx, forInvalidation(st, err))
	}
	return err
}

// unknownOutcome reports whether a transaction that returned err may
// still have committed: its deadline ended it, perhaps with the COMMIT on
// its way. Its keys are deleted anyway (a value that did not change costs
// one miss), so that the client's retry, which finds nothing left to
// change, sees the change; the outbox row stays for the sweep, which
// deletes them again should the commit land later.
func unknownOutcome(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// forInvalidation is what to invalidate of st after a transaction that
// returned err: all of it, but its outbox row is cleared only after a
// known commit.
func forInvalidation(st model.Stale, err error) model.Stale {
	if err != nil {
		st.ID = 0
	}
	return st
}
