package model_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/config"
	"github.com/tiktok-lite/server/test/tcpproxy"
	"github.com/tiktok-lite/server/test/testenv"
)

// A database that goes silent while COMMIT is on its way holds the COMMIT
// (database/sql gives it no context); Tx still returns when ctx ends.
func TestTxReturnsWhenTheCommitHangs(t *testing.T) {
	dsn := testenv.MySQLDatabase(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := tcpproxy.Start(t, cfg.Addr)
	cfg.Addr = proxy.Addr()
	db := testenv.OpenDB(t, config.Database{Driver: "mysql", DSN: cfg.FormatDSN(), MaxOpenConns: 2, MaxIdleConns: 2,
		IOTimeout: 10 * time.Second})
	s := model.NewStore(db)

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- s.Tx(ctx, func(tx *model.Store) error {
			if err := tx.CreateUser(ctx, &model.User{Name: "commit-hang", PasswordHash: "x"}); err != nil {
				return err
			}
			proxy.Blackhole() // the statements went through; COMMIT will not
			return nil
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Tx = %v, want the deadline's error", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Tx returned after %v with a 1s deadline", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Tx still waiting on COMMIT 4s past its deadline")
	}
	proxy.Restore()
}
