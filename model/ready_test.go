package model_test

import (
	"context"
	"testing"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/test/testenv"
)

// Ready fails on a database that answers but has lost its schema.
func TestReadyNeedsTheSchema(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			db := testenv.OpenDB(t, b.Cfg)
			if err := model.Ready(ctx, db); err != nil {
				t.Fatalf("migrated database: %v", err)
			}
			if err := db.Exec("DROP TABLE videos").Error; err != nil {
				t.Fatal(err)
			}
			if err := model.Ready(ctx, db); err == nil {
				t.Fatal("Ready passed with the videos table dropped")
			}
			if err := db.Exec("DELETE FROM schema_migrations").Error; err != nil {
				t.Fatal(err)
			}
			if err := model.Ready(ctx, db); err == nil {
				t.Fatal("Ready passed with no migration recorded")
			}
		})
	}
}
