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
	st, err := recordTx(ctx, store, inv, fn)
	if len(st.Keys) > 0 {
		inv.Invalidate(ctx, st)
	}
	return err
}

// recordTx runs fn in one transaction that also records the keys fn
// returns as stale, and returns what to invalidate: nothing when the
// transaction failed; its keys, without their outbox row, when its
// deadline left the outcome unknown (see unknownOutcome).
func recordTx(ctx context.Context, store Store, inv Invalidator, fn func(tx *model.Store) ([]string, error)) (model.Stale, error) {
	var st model.Stale
	err := store.Tx(ctx, func(tx *model.Store) error {
		st = model.Stale{} // an attempt retried after a deadlock starts afresh
		keys, err := fn(tx)
		if err != nil || len(keys) == 0 {
			return err
		}
		st, err = inv.Record(ctx, tx, keys)
		return err
	})
	switch {
	case err == nil:
		return st, nil
	case unknownOutcome(err):
		st.ID = 0 // the row stays for the sweep, should the commit land later
		return st, err
	default:
		return model.Stale{}, err
	}
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
