package model

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.uber.org/zap"
	"gorm.io/gorm"
	"gorm.io/plugin/dbresolver"

	"github.com/tiktok-lite/server/pkg/config"
)

// A transfer copies every table from one database to another, SQLite and
// MySQL alike, ids and all, in key order and bounded batches. Each batch is
// one transaction on the target, so a transfer that stops leaves whole
// batches behind and the next one resumes after the last key present.

// Table is one table of the schema, in the order rows must be copied so
// that what a row points at is there before it.
type Table struct {
	Name string
	Key  []string // primary key columns, the copy's order
}

// Tables lists every table but schema_migrations and cache_outbox (keys
// of one cache, meaningless to another), parents first.
func Tables() []Table {
	id := []string{"id"}
	return []Table{
		{"users", id}, {"videos", id}, {"favorites", id}, {"comments", id},
		{"follows", id}, {"conversations", []string{"user_lo", "user_hi"}}, {"messages", id},
	}
}

// Row is one row as column → value.
type Row = map[string]any

// Batch reads up to n rows of t after the key after (nil: from the start),
// in key order.
func Batch(ctx context.Context, db *gorm.DB, t Table, after []any, n int) ([]Row, error) {
	q := db.WithContext(ctx).Clauses(dbresolver.Write).Table(t.Name).Order(strings.Join(t.Key, ", ")).Limit(n)
	if after != nil {
		where, args := keyAfter(t.Key, after)
		q = q.Where(where, args...)
	}
	var rows []Row
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read %s: %w", t.Name, err)
	}
	for _, r := range rows {
		for k, v := range r {
			if b, ok := v.([]byte); ok { // MySQL's text columns arrive as bytes
				r[k] = string(b)
			}
		}
	}
	return rows, nil
}

// keyAfter is the condition "key > after" for a key of one or two columns.
func keyAfter(key []string, after []any) (string, []any) {
	if len(key) == 1 {
		return key[0] + " > ?", after
	}
	return "(" + key[0] + " > ? OR (" + key[0] + " = ? AND " + key[1] + " > ?))", []any{after[0], after[0], after[1]}
}

// KeyOf is the key of row r in t. A driver that reads numbers as text
// ([]byte) gives the same key, and the same KeySum, as one that reads them
// as numbers.
func KeyOf(t Table, r Row) []any {
	out := make([]any, len(t.Key))
	for i, c := range t.Key {
		out[i] = r[c]
		if b, ok := out[i].([]byte); ok {
			out[i] = string(b)
		}
	}
	return out
}

// Insert writes rows into t in one transaction, keys included.
func Insert(ctx context.Context, db *gorm.DB, t Table, rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return tx.Table(t.Name).Create(rows).Error
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", t.Name, translate(err))
	}
	return nil
}

// LastKey is the greatest key of t, nil when t is empty.
func LastKey(ctx context.Context, db *gorm.DB, t Table) ([]any, error) {
	desc := make([]string, len(t.Key))
	for i, c := range t.Key {
		desc[i] = c + " DESC"
	}
	var rows []Row
	err := db.WithContext(ctx).Clauses(dbresolver.Write).Table(t.Name).Select(t.Key).Order(strings.Join(desc, ", ")).Limit(1).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("last key of %s: %w", t.Name, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return KeyOf(t, rows[0]), nil
}

// Count is the number of rows in t.
func Count(ctx context.Context, db *gorm.DB, t Table) (int64, error) {
	var n int64
	if err := db.WithContext(ctx).Clauses(dbresolver.Write).Table(t.Name).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count %s: %w", t.Name, err)
	}
	return n, nil
}

// KeySum is a SHA-256 over every key of t in order: equal sums mean the
// same set of rows by key.
func KeySum(ctx context.Context, db *gorm.DB, t Table) (string, error) {
	h := sha256.New()
	var after []any
	for {
		q := db.WithContext(ctx).Clauses(dbresolver.Write).Table(t.Name).Select(t.Key).Order(strings.Join(t.Key, ", ")).Limit(5000)
		if after != nil {
			where, args := keyAfter(t.Key, after)
			q = q.Where(where, args...)
		}
		var rows []Row
		if err := q.Find(&rows).Error; err != nil {
			return "", fmt.Errorf("keys of %s: %w", t.Name, err)
		}
		for _, r := range rows {
			fmt.Fprintln(h, KeyOf(t, r)...)
		}
		if len(rows) < 5000 {
			return hex.EncodeToString(h.Sum(nil)), nil
		}
		after = KeyOf(t, rows[len(rows)-1])
	}
}

// counterChecks recompute every stored counter from the rows it counts;
// each query counts the rows whose counter disagrees.
var counterChecks = []struct{ name, query string }{
	{"users.follow_count", "SELECT COUNT(*) FROM users u WHERE u.follow_count <> (SELECT COUNT(*) FROM follows f WHERE f.user_id = u.id)"},
	{"users.follower_count", "SELECT COUNT(*) FROM users u WHERE u.follower_count <> (SELECT COUNT(*) FROM follows f WHERE f.to_user_id = u.id)"},
	{"users.work_count", "SELECT COUNT(*) FROM users u WHERE u.work_count <> (SELECT COUNT(*) FROM videos v WHERE v.author_id = u.id)"},
	{"users.favorite_count", "SELECT COUNT(*) FROM users u WHERE u.favorite_count <> (SELECT COUNT(*) FROM favorites f WHERE f.user_id = u.id)"},
	{"users.total_favorited", "SELECT COUNT(*) FROM users u WHERE u.total_favorited <> (SELECT COUNT(*) FROM favorites f JOIN videos v ON v.id = f.video_id WHERE v.author_id = u.id)"},
	{"users.stored_bytes", "SELECT COUNT(*) FROM users u WHERE u.stored_bytes <> (SELECT COALESCE(SUM(v.size_bytes), 0) FROM videos v WHERE v.author_id = u.id)"},
	{"videos.favorite_count", "SELECT COUNT(*) FROM videos v WHERE v.favorite_count <> (SELECT COUNT(*) FROM favorites f WHERE f.video_id = v.id)"},
	{"videos.comment_count", "SELECT COUNT(*) FROM videos v WHERE v.comment_count <> (SELECT COUNT(*) FROM comments c WHERE c.video_id = v.id)"},
}

// CounterCheck is one counter recomputed from its rows.
type CounterCheck struct {
	Name  string
	Wrong int64 // rows whose stored counter disagrees with its rows
}

// CheckCounters recomputes every stored counter from its rows.
func CheckCounters(ctx context.Context, db *gorm.DB) ([]CounterCheck, error) {
	out := make([]CounterCheck, 0, len(counterChecks))
	var errs []error
	for _, c := range counterChecks {
		var n int64
		if err := db.WithContext(ctx).Clauses(dbresolver.Write).Raw(c.query).Scan(&n).Error; err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.name, err))
			continue
		}
		out = append(out, CounterCheck{c.name, n})
	}
	return out, errors.Join(errs...)
}

// Snapshot writes a consistent copy of a SQLite database to path (VACUUM
// INTO), while others go on reading and writing it.
func Snapshot(ctx context.Context, db *gorm.DB, path string) error {
	if db.Dialector.Name() != "sqlite" {
		return errors.New("snapshot: only a SQLite database can be copied this way")
	}
	if err := db.WithContext(ctx).Exec("VACUUM INTO ?", path).Error; err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// OpenSQLiteFile opens the SQLite database at path, for reading a snapshot.
func OpenSQLiteFile(path string) (*gorm.DB, error) {
	return Open(config.Database{Driver: "sqlite", DSN: path, MaxOpenConns: 1, MaxIdleConns: 1}, zap.NewNop())
}

// MediaKeys lists every media object the videos name, sorted.
func MediaKeys(ctx context.Context, db *gorm.DB) ([]string, error) {
	var rows []Video
	if err := db.WithContext(ctx).Clauses(dbresolver.Write).Select("play_key", "cover_key").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("media keys: %w", err)
	}
	var keys []string
	for _, v := range rows {
		for _, k := range []string{v.PlayKey, v.CoverKey} {
			if k != "" {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return slices.Compact(keys), nil
}
