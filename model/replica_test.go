package model_test

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/zap"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/test/testenv"
)

// A "replica" here is a second, empty database that never receives the
// primary's writes, so every read shows which side answered it.
func TestReadsRouteToReplicasAndReadYourWritesToPrimary(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.MySQLConfig(t)
	testenv.OpenDB(t, cfg) // migrates the primary
	replicaDSN := testenv.MySQLDatabase(t)
	testenv.OpenDB(t, testenv.MySQLConfigFor(replicaDSN))
	cfg.Replicas = []string{replicaDSN}
	db, err := model.Open(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { model.Close(db) })
	s := model.NewStore(db)

	u := &model.User{Name: "writer", PasswordHash: "x"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	// Read-your-write paths: the primary.
	if got, err := s.UserByName(ctx, "writer"); err != nil || got.ID != u.ID {
		t.Errorf("UserByName right after the write = %v, %v; want the new user from the primary", got, err)
	}
	if ok, err := s.UserExists(ctx, u.ID); err != nil || !ok {
		t.Errorf("UserExists = %v, %v; want true from the primary", ok, err)
	}
	// Inside a transaction: the primary.
	err = s.Tx(ctx, func(tx *model.Store) error {
		users, err := tx.UsersByIDs(ctx, []int64{u.ID})
		if err != nil {
			return err
		}
		if len(users) != 1 {
			return errors.New("transaction read did not see the primary's row")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	// Cacheable reads: the replica, which has not got the row.
	users, err := s.UsersByIDs(ctx, []int64{u.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 0 {
		t.Errorf("UsersByIDs answered from the primary; want the (empty) replica")
	}
}

// Migrations run on the primary alone: on a fresh database with a replica
// that has nothing yet (a replica behind, or one still catching up), the
// first start migrates, and a second start finds the schema up to date.
func TestMigrationsRunOnThePrimary(t *testing.T) {
	cfg := testenv.MySQLConfig(t)
	cfg.Replicas = []string{testenv.MySQLDatabase(t)} // empty, and never written
	for start := 1; start <= 2; start++ {
		db, err := model.Open(cfg, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		if err := model.Migrate(db); err != nil {
			t.Fatalf("start %d: %v", start, err)
		}
		if err := model.Ready(context.Background(), db); err != nil {
			t.Errorf("start %d: the primary is not ready after migrating: %v", start, err)
		}
		model.Close(db)
	}
	replica, err := model.Open(testenv.MySQLConfigFor(cfg.Replicas[0]), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close(replica)
	var tables int64
	if err := replica.Raw("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()").Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("the replica got %d tables; migrations must not write there", tables)
	}
}
