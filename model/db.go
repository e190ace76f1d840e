// Package model holds the GORM models and every query; it is the only
// package that speaks SQL.
package model

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	mysqldriver "github.com/go-sql-driver/mysql"
	"go.uber.org/zap"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"
	"gorm.io/plugin/dbresolver"

	"github.com/tiktok-lite/server/pkg/config"
)

// Open connects to the configured database and sets up the pool; plugins
// (tracing, say) are installed on the handle before it is returned.
func Open(cfg config.Database, log *zap.Logger, plugins ...gorm.Plugin) (*gorm.DB, error) {
	var dialector gorm.Dialector
	switch cfg.Driver {
	case "mysql":
		dsn, err := boundedDSN(cfg.DSN, cfg.IOTimeout)
		if err != nil {
			return nil, err
		}
		dialector = mysql.Open(dsn)
	case "sqlite":
		if err := os.MkdirAll(filepath.Dir(cfg.DSN), 0o755); err != nil {
			return nil, fmt.Errorf("make database dir: %w", err)
		}
		dialector = sqlite.Open(sqliteDSN(cfg.DSN))
	default:
		return nil, fmt.Errorf("unknown database driver %q", cfg.Driver)
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		TranslateError:         true,
		SkipDefaultTransaction: true, // every write that needs one opens it itself
		PrepareStmt:            true,
		Logger:                 newGormLogger(log, cfg.SlowQuery),
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.Driver, err)
	}
	if len(cfg.Replicas) > 0 {
		if err := useReplicas(db, cfg, log); err != nil {
			return nil, err
		}
	}
	for _, p := range plugins {
		if err := db.Use(p); err != nil {
			return nil, fmt.Errorf("database plugin %s: %w", p.Name(), err)
		}
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("database handle: %w", err)
	}
	sqlDB.SetMaxOpenConns(cfg.MaxOpenConns)
	sqlDB.SetMaxIdleConns(cfg.MaxIdleConns)
	sqlDB.SetConnMaxLifetime(cfg.ConnMaxLifetime)
	if cfg.Driver == "sqlite" {
		// One writer at a time is SQLite's rule; WAL lets reads go on beside
		// it, and BEGIN IMMEDIATE makes a writer queue at its start instead
		// of failing half-way when two transactions both try to upgrade.
		sqlDB.SetMaxIdleConns(cfg.MaxOpenConns)
		sqlDB.SetConnMaxLifetime(0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("reach %s: %w", cfg.Driver, err)
	}
	return db, nil
}

// useReplicas sends the reads that may go to a replica to one that is up
// and caught up (see replicaRouter), and the rest, writes and
// transactions to the primary. The primary's DSN is the router's last
// pool, for the reads no replica can take.
func useReplicas(db *gorm.DB, cfg config.Database, log *zap.Logger) error {
	primary, err := boundedDSN(cfg.DSN, cfg.IOTimeout)
	if err != nil {
		return err
	}
	dsns := make([]string, 0, len(cfg.Replicas))
	pools := make([]gorm.Dialector, 0, len(cfg.Replicas)+1)
	for _, dsn := range append(cfg.Replicas, cfg.DSN) {
		dsn, err := boundedDSN(dsn, cfg.IOTimeout)
		if err != nil {
			return fmt.Errorf("database.replicas: %w", err)
		}
		dsns = append(dsns, dsn)
		pools = append(pools, mysql.Open(interpolated(dsn)))
	}
	dsns = dsns[:len(cfg.Replicas)]
	r, err := newReplicaRouter(primary, dsns, cfg.ReplicaMaxLag, log)
	if err != nil {
		return fmt.Errorf("read replicas: %w", err)
	}
	resolver := dbresolver.Register(dbresolver.Config{Replicas: pools, Policy: r}).
		SetMaxOpenConns(cfg.MaxOpenConns).SetMaxIdleConns(cfg.MaxIdleConns).SetConnMaxLifetime(cfg.ConnMaxLifetime)
	if err := errors.Join(db.Use(r), db.Use(resolver)); err != nil {
		r.close()
		return fmt.Errorf("read replicas: %w", err)
	}
	r.start()
	return nil
}

// boundedDSN gives a MySQL DSN the time-outs it does not set itself:
// every read and write on a connection within io, a dial within
// dialTimeout. Without them a COMMIT to a database that went silent holds
// its connection until TCP gives up, many minutes later.
func boundedDSN(dsn string, io time.Duration) (string, error) {
	c, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("database.dsn: %w", err)
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = io
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = io
	}
	if c.Timeout == 0 {
		c.Timeout = dialTimeout
	}
	return c.FormatDSN(), nil
}

// interpolated has the driver put a read's values into its text, one round
// trip, for the router's pools, whose reads gorm does not prepare (see
// replicaPool). Safe with utf8mb4, the only character set used.
func interpolated(dsn string) string {
	c, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		return dsn // boundedDSN has parsed it already
	}
	c.InterpolateParams = true
	return c.FormatDSN()
}

// dialTimeout bounds a new MySQL connection when the DSN sets none.
const dialTimeout = 5 * time.Second

func sqliteDSN(path string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
}

// Ready reports whether the database answers with the schema this binary
// needs, for /readyz: the newest migration is recorded and the tables
// read on every request are there. A bare ping would pass on a database
// whose schema was dropped.
func Ready(ctx context.Context, db *gorm.DB) error {
	db = db.WithContext(ctx).Clauses(dbresolver.Write)
	var n int64
	if err := db.Raw("SELECT COUNT(*) FROM schema_migrations WHERE id = ?", latestMigration()).Scan(&n).Error; err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("schema: migration %s is not applied", latestMigration())
	}
	for _, table := range []string{"users", "videos"} {
		var ids []int64
		if err := db.Raw("SELECT id FROM " + table + " LIMIT 1").Scan(&ids).Error; err != nil {
			return fmt.Errorf("schema: %s: %w", table, err)
		}
	}
	return nil
}

// Close closes the pool and stops the replicas' probes.
func Close(db *gorm.DB) error {
	if r := router(db); r != nil {
		r.close()
	}
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// gormLogger sends GORM's errors and slow statements to zap; record-not-found
// is an ordinary outcome, not an error worth a line.
type gormLogger struct {
	log  *zap.Logger
	slow time.Duration
}

func newGormLogger(log *zap.Logger, slow time.Duration) gormlogger.Interface {
	return &gormLogger{log: log.Named("sql"), slow: slow}
}

func (l *gormLogger) LogMode(gormlogger.LogLevel) gormlogger.Interface { return l }
func (l *gormLogger) Info(context.Context, string, ...any)             {}
func (l *gormLogger) Warn(_ context.Context, msg string, args ...any) {
	l.log.Warn(fmt.Sprintf(msg, args...))
}
func (l *gormLogger) Error(_ context.Context, msg string, args ...any) {
	l.log.Error(fmt.Sprintf(msg, args...))
}

func (l *gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	switch {
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && !errors.Is(err, gorm.ErrDuplicatedKey) && !errors.Is(err, context.Canceled):
		sql, rows := fc()
		l.log.Warn("statement failed", zap.Error(err), zap.Duration("elapsed", elapsed), zap.Int64("rows", rows), zap.String("sql", sql))
	case l.slow > 0 && elapsed > l.slow:
		sql, rows := fc()
		l.log.Warn("slow statement", zap.Duration("elapsed", elapsed), zap.Int64("rows", rows), zap.String("sql", sql))
	}
}

// ParamsFilter keeps bound values out of logged SQL: they may hold
// password hashes, message text or other personal data.
func (l *gormLogger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}
