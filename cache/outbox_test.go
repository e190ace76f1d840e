package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/tiktok-lite/server/model"
)

// TestAnInstanceThatRunsOnSweepsWhatADeadOneLeft: the rows of writes whose
// deletes succeeded are removed within a second; and a follow committed with
// its keys recorded, by a process that died before deleting them (here:
// nothing calls Invalidate), is made visible by the sweep of an instance
// that runs on, within SweepEvery + SweepAge (1 s + 2 s).
func TestAnInstanceThatRunsOnSweepsWhatADeadOneLeft(t *testing.T) {
	layers(t, func(t *testing.T, o nodeOpts) {
		n := newNode(t, o)
		w := seed(t, n)
		waitLocal(t, n, o)
		fresh(t, n, w) // every key cached

		ctx := context.Background()
		for deadline := time.Now().Add(time.Second); ; time.Sleep(20 * time.Millisecond) {
			rows, err := n.store.StaleBefore(ctx, time.Now().Add(time.Hour).UnixMilli(), 100)
			must(t, err)
			if len(rows) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a second after the seed's writes the outbox still holds %d rows", len(rows))
			}
		}
		changes := []model.FollowChange{{UserID: w.users[2], ToUserID: w.users[1], On: true}}
		must(t, n.store.Tx(ctx, func(tx *model.Store) error {
			if _, err := tx.ApplyFollows(ctx, changes); err != nil {
				return err
			}
			_, err := n.cache.Record(ctx, tx, n.cache.FollowKeys(changes))
			return err
		}))
		freshWithin(t, n, w, 5*time.Second)
	})
}
