package model_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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
	cfg.ReplicaMaxLag = time.Second
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
	// Cacheable reads: the primary until a probe has found the replica
	// caught up with this process's write (this "replica", on a server
	// without a binary log, always is), then the replica, which has not
	// got the row.
	deadline := time.Now().Add(5 * time.Second)
	for {
		users, err := s.UsersByIDs(ctx, []int64{u.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(users) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("UsersByIDs still answered from the primary 5 s after the write; want the (empty) replica")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// On a real GTID replica: a read right after this process's write sees
// it though the replica has not applied it; a replica held behind the lag
// bound, or killed, takes no reads (they go to the primary, fresh and
// without errors) and is reported; caught up again, it is ready again.
func TestReplicaLagAndOutage(t *testing.T) {
	ctx := context.Background()
	primary, replica := testenv.MariaDBPair(t)
	name := primary.Database(t)
	replica.WaitFor(t, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '"+name+"'", 10*time.Second)
	open := func() *model.Store {
		cfg := testenv.MySQLConfigFor(primary.DSN(name))
		cfg.Replicas = []string{replica.DSN(name)}
		cfg.ReplicaMaxLag = 300 * time.Millisecond
		return model.NewStore(testenv.OpenDB(t, cfg))
	}
	writer := open()
	waitReady := func(s *model.Store, want bool) error {
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := model.ReplicasReady(s.DB())
			if (err == nil) == want {
				return err
			}
			if time.Now().After(deadline) {
				t.Fatalf("replicas ready = %v after 5 s, want ready %v", err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitReady(writer, true)

	// The replica stops applying what it receives: it falls behind.
	replica.Exec(t, "STOP SLAVE SQL_THREAD")
	for i := range 20 {
		u := &model.User{Name: fmt.Sprintf("writer%d", i), PasswordHash: "x"}
		if err := writer.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if users, err := writer.UsersByIDs(ctx, []int64{u.ID}); err != nil || len(users) != 1 {
			t.Fatalf("write %d: the writer's read right after it found %d users (%v), want its own", i, len(users), err)
		}
	}

	// Another process that has written nothing reads a row the replica
	// lacks: from the primary once the lag is seen.
	reader := open()
	other := &model.User{Name: "other", PasswordHash: "x"}
	if err := writer.CreateUser(ctx, other); err != nil {
		t.Fatal(err)
	}
	err := waitReady(reader, false)
	if !strings.Contains(err.Error(), "behind") {
		t.Errorf("a replica held back is reported as %q, want behind the primary", err)
	}
	if users, err := reader.UsersByIDs(ctx, []int64{other.ID}); err != nil || len(users) != 1 {
		t.Errorf("with the replica behind, a read found %d users (%v), want the primary's row", len(users), err)
	}

	replica.Exec(t, "START SLAVE SQL_THREAD")
	waitReady(reader, true)

	replica.Kill()
	err = waitReady(reader, false)
	if !strings.Contains(err.Error(), "down") {
		t.Errorf("a killed replica is reported as %q, want down", err)
	}
	for range 20 {
		if users, err := reader.UsersByIDs(ctx, []int64{other.ID}); err != nil || len(users) != 1 {
			t.Fatalf("with the replica down, a read found %d users (%v), want the primary's row", len(users), err)
		}
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
