package service

import (
	"context"

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
	if err != nil {
		return err
	}
	if len(st.Keys) > 0 {
		inv.Invalidate(ctx, st)
	}
	return nil
}
