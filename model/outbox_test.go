package model_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/test/testenv"
)

// Stale keys exist exactly when their transaction committed: recorded in
// one that rolls back, they are gone with it; cleared, they are gone for
// good; a key list of a whole batch (128 follows, 7 keys each) fits.
func TestTheOutboxIsPartOfTheTransaction(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			s := model.NewStore(testenv.OpenDB(t, b.Cfg))
			var big []string
			for i := range 128 * 7 {
				big = append(big, "tiktok:followers:"+strings.Repeat("9", 19)+":"+string(rune('a'+i%26)))
			}
			var kept model.Stale
			must(t, s.Tx(ctx, func(tx *model.Store) error {
				var err error
				kept, err = tx.RecordStale(ctx, big)
				return err
			}))
			undone := errors.New("undone")
			if err := s.Tx(ctx, func(tx *model.Store) error {
				if _, err := tx.RecordStale(ctx, []string{"tiktok:rolled-back"}); err != nil {
					return err
				}
				return undone
			}); !errors.Is(err, undone) {
				t.Fatalf("Tx = %v, want %v", err, undone)
			}

			rows, err := s.StaleBefore(ctx, time.Now().Add(time.Second).UnixMilli(), 10)
			must(t, err)
			if len(rows) != 1 || rows[0].ID != kept.ID || !slices.Equal(rows[0].Keys, big) {
				t.Fatalf("outbox holds %d rows (%+v), want the committed one alone with its %d keys", len(rows), ids(rows), len(big))
			}
			if rows, _ := s.StaleBefore(ctx, time.Now().Add(-time.Minute).UnixMilli(), 10); len(rows) != 0 {
				t.Errorf("rows written before a minute ago: %d, want 0", len(rows))
			}
			must(t, s.ClearStale(ctx, []int64{kept.ID}))
			rows, err = s.StaleBefore(ctx, time.Now().Add(time.Second).UnixMilli(), 10)
			must(t, err)
			if len(rows) != 0 {
				t.Errorf("after clearing, the outbox holds %v", ids(rows))
			}
		})
	}
}

func ids(rows []model.Stale) []int64 {
	out := make([]int64, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}
