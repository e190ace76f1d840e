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
