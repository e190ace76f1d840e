package model

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"gorm.io/gorm"
	"gorm.io/plugin/dbresolver"
)

// Outcomes the services act on; driver errors are translated to these here
// and nowhere else.
var (
	ErrNotFound  = errors.New("record not found")
	ErrDuplicate = errors.New("duplicate key")
	// ErrUserGone is a write on behalf of, or aimed at, a user that does
	// not exist (any more).
	ErrUserGone = errors.New("user does not exist")
)

// Store runs every query. Inside Tx it is bound to the transaction.
type Store struct {
	db  *gorm.DB
	now func() time.Time
}

// NewStore returns a store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db, now: time.Now} }

// Primary returns a store whose every read goes to the primary, for what
// keeps what it reads (the cache): a replica's lag would be kept for the
// whole TTL. Without replicas it is the same store.
func (s *Store) Primary() *Store {
	return &Store{db: s.db.Clauses(dbresolver.Write).Session(&gorm.Session{}), now: s.now}
}

// DB is the underlying handle, for wiring (metrics, health) only.
func (s *Store) DB() *gorm.DB { return s.db }

func (s *Store) nowMs() int64 { return s.now().UnixMilli() }

// primary is for reads that must see the latest commit: log-in right after
// register, the existence and ownership checks before a write, chat. With
// read replicas configured, every other read may go to a replica.
func (s *Store) primary(ctx context.Context) *gorm.DB {
	return s.db.WithContext(ctx).Clauses(dbresolver.Write)
}

// maxTxAttempts bounds the retries of a transaction that lost a deadlock.
const maxTxAttempts = 5

// Tx runs fn in one transaction, retrying it from the start when the
// database chose it as a deadlock victim: under concurrent likes and follows
// that is an expected, harmless outcome, not an error to show anyone.
// It returns by the time ctx ends, whatever the database does; a
// transaction cut short that way may still have committed.
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	if r := router(s.db); r != nil {
		defer r.noteWrite() // after COMMIT, or whatever else ended it
	}
	var err error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		err = s.tx(ctx, fn)
		if err != nil && ctx.Err() != nil {
			// The driver's own words ("transaction has already been
			// committed or rolled back") would hide why.
			return fmt.Errorf("transaction: %w", ctx.Err())
		}
		if !retryable(err) {
			return err
		}
		time.Sleep(time.Duration(attempt*attempt) * 5 * time.Millisecond)
	}
	return err
}

// tx is one attempt. The statements inside fn end with ctx; COMMIT and
// ROLLBACK take no context in database/sql, and a silent database would
// hold them until the connection's read time-out, so they are waited for
// only as long as ctx lasts (database/sql rolls back what ctx ended).
func (s *Store) tx(ctx context.Context, fn func(tx *Store) error) (err error) {
	tx := s.db.WithContext(ctx).Begin()
	if tx.Error != nil {
		return tx.Error
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if rerr := untilDone(ctx, func() error { return tx.Rollback().Error }); rerr != nil && err == nil {
			err = rerr
		}
	}()
	if err := fn(&Store{db: tx, now: s.now}); err != nil {
		return err
	}
	committed = true
	return untilDone(ctx, func() error { return tx.Commit().Error })
}

// untilDone runs op and returns its error, or ctx's once ctx ends first;
// op then goes on alone.
func untilDone(ctx context.Context, op func() error) error {
	done := make(chan error, 1)
	go func() { done <- op() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func retryable(err error) bool {
	if err == nil {
		return false
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		return my.Number == 1213 || my.Number == 1205 // deadlock, lock wait timeout
	}
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY")
}

// translate maps GORM's and the drivers' errors to this package's.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return ErrDuplicate
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) && my.Number == 1062 {
		return ErrDuplicate
	}
	if strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return ErrDuplicate
	}
	return err
}

// uniqueIDs returns a sorted copy without duplicates; batch queries and lock
// orders use it.
func uniqueIDs(ids []int64) []int64 {
	seen := make(map[int64]struct{}, len(ids))
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; ok {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	return out
}

// insertOnce inserts a row unless one with the same unique key exists, and
// reports whether it did. It uses a plain Exec because GORM's Create adds
// RETURNING on MariaDB, whose row count then includes the existing row,
// and a repeat must be told from a first time by the insert itself.
func (s *Store) insertOnce(ctx context.Context, table string, cols []string, vals ...any) (bool, error) {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	sql := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + marks + ")"
	if s.db.Dialector.Name() == "mysql" {
		sql += " ON DUPLICATE KEY UPDATE " + cols[0] + " = " + cols[0]
	} else {
		sql += " ON CONFLICT DO NOTHING"
	}
	res := s.db.WithContext(ctx).Exec(sql, vals...)
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected > 0, nil
}

// sign is the counter move of turning something on or off.
func sign(on bool) int64 {
	if on {
		return 1
	}
	return -1
}

// applyOne unwraps the answer of a batch of one change.
func (s *Store) applyOne(changed []bool, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	return changed[0], nil
}

// counterDeltas sums counter moves per row and column, so that a batch of
// changes updates each row once.
type counterDeltas map[counterKey]int64

type counterKey struct {
	id     int64
	column string
}

func (d counterDeltas) add(id int64, column string, by int64) { d[counterKey{id, column}] += by }

// list returns the non-zero moves, ordered by row and column.
func (d counterDeltas) list() []counterDelta {
	out := make([]counterDelta, 0, len(d))
	for k, by := range d {
		if by != 0 {
			out = append(out, counterDelta{k.id, k.column, by})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].id != out[j].id {
			return out[i].id < out[j].id
		}
		return out[i].column < out[j].column
	})
	return out
}
