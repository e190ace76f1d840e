package model

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"go.uber.org/zap"
	"gorm.io/gorm"
)

// replicaProbeEvery is how often each replica is asked how far it has
// got. After a write, this process reads from the primary until the next
// probe shows the replica has applied it, so it also bounds how long a
// writing instance keeps its reads off the replicas.
const replicaProbeEvery = 200 * time.Millisecond

// replicaRouter chooses where a read that may go to a replica goes: to a
// replica that answered its last probe, is no further behind the primary
// than the lag bound, and has applied every write this process made;
// otherwise to the primary. It is dbresolver's policy over the replicas'
// pools, the primary's pool last, and a gorm plugin that notes the end of
// every write.
//
// A probe reads the primary's GTID position and waits, on the replica,
// for that position for at most the lag bound: a replica that reaches it
// has applied every commit made before the probe began, and one that
// does not is too far behind to be read.
type replicaRouter struct {
	gtid    gtidQueries
	primary *sql.DB // probes only
	nodes   []*replicaNode
	maxLag  time.Duration
	log     *zap.Logger

	epoch time.Time    // the base of every instant below, for its monotonic clock
	wrote atomic.Int64 // when this process's newest write ended

	wrapOnce sync.Once
	wrapped  []gorm.ConnPool // the replicas' pools, as replicaPool

	stop context.CancelFunc
	done sync.WaitGroup
}

type replicaNode struct {
	addr  string
	db    *sql.DB // probes only
	state atomic.Pointer[replicaState]
}

// replicaState is what a replica's last probe found.
type replicaState struct {
	err     error // nil: up and within the lag bound
	applied int64 // every commit that ended before this instant is on the replica
	checked int64 // when the probe ended
	lag     time.Duration
}

// gtidQueries are the two statements of a probe, in the server's dialect.
type gtidQueries struct {
	position string // on the primary: its GTID position
	wait     string // on a replica: 0 once it has applied (position, seconds)
}

var (
	mariaDBGTID = gtidQueries{"SELECT @@GLOBAL.gtid_binlog_pos", "SELECT MASTER_GTID_WAIT(?, ?)"}
	mySQLGTID   = gtidQueries{"SELECT @@GLOBAL.gtid_executed", "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)"}
)

const replicaPluginName = "tiktok:replicas"

func newReplicaRouter(primaryDSN string, replicaDSNs []string, maxLag time.Duration, log *zap.Logger) (*replicaRouter, error) {
	r := &replicaRouter{maxLag: maxLag, log: log.Named("replicas"), epoch: time.Now()}
	var err error
	if r.primary, err = sql.Open("mysql", primaryDSN); err != nil {
		return nil, err
	}
	r.primary.SetMaxOpenConns(2)
	for _, dsn := range replicaDSNs {
		c, err := mysqldriver.ParseDSN(dsn)
		if err != nil {
			r.close()
			return nil, err
		}
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			r.close()
			return nil, err
		}
		db.SetMaxOpenConns(1)
		r.nodes = append(r.nodes, &replicaNode{addr: c.Addr, db: db})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var version string
	if err := r.primary.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		r.close()
		return nil, fmt.Errorf("primary version: %w", err)
	}
	r.gtid = mySQLGTID
	if strings.Contains(version, "MariaDB") {
		r.gtid = mariaDBGTID
	}
	return r, nil
}

func (r *replicaRouter) now() int64 { return int64(time.Since(r.epoch)) }

// Name and Initialize make the router a gorm plugin: every statement
// that writes outside a transaction notes its end (Store.Tx notes a
// transaction's).
func (r *replicaRouter) Name() string { return replicaPluginName }

func (r *replicaRouter) Initialize(db *gorm.DB) error {
	wrote := func(*gorm.DB) { r.noteWrite() }
	cb := db.Callback()
	return errors.Join(
		cb.Create().After("gorm:create").Register("tiktok:replicas:create", wrote),
		cb.Update().After("gorm:update").Register("tiktok:replicas:update", wrote),
		cb.Delete().After("gorm:delete").Register("tiktok:replicas:delete", wrote),
		cb.Raw().After("gorm:raw").Register("tiktok:replicas:raw", wrote),
	)
}

// noteWrite records that a write has just ended: until a probe that began
// after now finds a replica caught up, this process reads the primary.
func (r *replicaRouter) noteWrite() {
	now := r.now()
	for {
		old := r.wrote.Load()
		if old >= now || r.wrote.CompareAndSwap(old, now) {
			return
		}
	}
}

// Resolve picks the pool of a read: a usable replica's, at random, or
// the primary's, which is the last of pools.
func (r *replicaRouter) Resolve(pools []gorm.ConnPool) gorm.ConnPool {
	r.wrapOnce.Do(func() {
		for i, node := range r.nodes {
			r.wrapped = append(r.wrapped, &replicaPool{ConnPool: pools[i], primary: pools[len(r.nodes)], node: node, r: r})
		}
	})
	wrote, now := r.wrote.Load(), r.now()
	n := len(r.nodes)
	first := rand.IntN(n)
	for k := range n {
		i := (first + k) % n
		if st := r.nodes[i].state.Load(); r.trusted(st, now) && st.applied >= wrote {
			return r.wrapped[i]
		}
	}
	return pools[n]
}

// replicaPool is a replica's pool that sends a read on to the primary
// when the replica does not answer it (it died since its last probe), and
// takes the replica out of use until a probe finds it back.
type replicaPool struct {
	gorm.ConnPool
	primary gorm.ConnPool
	node    *replicaNode
	r       *replicaRouter
}

func (p *replicaPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := p.ConnPool.QueryContext(ctx, query, args...)
	if p.unanswered(ctx, err) {
		return p.primary.QueryContext(ctx, query, args...)
	}
	return rows, err
}

func (p *replicaPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	row := p.ConnPool.QueryRowContext(ctx, query, args...)
	if p.unanswered(ctx, row.Err()) {
		return p.primary.QueryRowContext(ctx, query, args...)
	}
	return row
}

// unanswered reports whether err means the replica did not answer (not
// an error the server gave, nor the caller's context ending), and if so
// takes the replica out of use.
func (p *replicaPool) unanswered(ctx context.Context, err error) bool {
	var server *mysqldriver.MySQLError
	if err == nil || errors.As(err, &server) || ctx.Err() != nil {
		return false
	}
	p.r.record(p.node, &replicaState{err: fmt.Errorf("down: %w", err), checked: p.r.now()})
	return true
}

// staleAfter is how old a probe's finding may be before it is not
// trusted: a prober that stopped getting answers stops sending reads.
func (r *replicaRouter) staleAfter() time.Duration {
	return r.maxLag + 2*replicaProbeEvery + time.Second
}

// trusted reports whether st, a replica's last finding, lets it take
// reads at now: it was probed, was up and within the lag bound, and not
// too long ago.
func (r *replicaRouter) trusted(st *replicaState, now int64) bool {
	return st != nil && st.err == nil && now-st.checked <= int64(r.staleAfter())
}

// record makes st node's finding, and logs when that takes the replica
// out of use or puts it back.
func (r *replicaRouter) record(node *replicaNode, st *replicaState) {
	old := node.state.Swap(st)
	switch {
	case st.err != nil && (old == nil || old.err == nil):
		r.log.Warn("replica not used: reads go to the primary", zap.String("replica", node.addr), zap.Error(st.err))
	case st.err == nil && old != nil && old.err != nil:
		r.log.Info("replica used again", zap.String("replica", node.addr), zap.Duration("lag", st.lag))
	}
}

// start probes every replica once, so the first reads may use them, and
// then every replicaProbeEvery until close.
func (r *replicaRouter) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	for _, node := range r.nodes {
		r.probe(ctx, node)
		r.done.Add(1)
		go func() {
			defer r.done.Done()
			tick := time.NewTicker(replicaProbeEvery)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					r.probe(ctx, node)
				}
			}
		}()
	}
}

func (r *replicaRouter) probe(ctx context.Context, node *replicaNode) {
	ctx, cancel := context.WithTimeout(ctx, r.maxLag+time.Second)
	defer cancel()
	began := r.now()
	st := &replicaState{}
	var pos string
	var reached sql.NullInt64
	if err := r.primary.QueryRowContext(ctx, r.gtid.position).Scan(&pos); err != nil {
		st.err = fmt.Errorf("the primary's position: %w", err)
	} else if err := node.db.QueryRowContext(ctx, r.gtid.wait, pos, r.maxLag.Seconds()).Scan(&reached); err != nil {
		st.err = fmt.Errorf("down: %w", err)
	} else if !reached.Valid || reached.Int64 != 0 {
		st.err = fmt.Errorf("more than %s behind the primary", r.maxLag)
	}
	st.checked = r.now()
	if st.err == nil {
		st.applied, st.lag = began, time.Duration(st.checked-began)
	}
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		return // closing
	}
	r.record(node, st)
}

// ready is nil while every replica is usable; else it names those that
// are not, and why.
func (r *replicaRouter) ready() error {
	var errs []error
	now := r.now()
	for _, node := range r.nodes {
		st := node.state.Load()
		switch {
		case st == nil:
			errs = append(errs, fmt.Errorf("%s: not probed yet", node.addr))
		case st.err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", node.addr, st.err))
		case now-st.checked > int64(r.staleAfter()):
			errs = append(errs, fmt.Errorf("%s: no probe answered for %s", node.addr, time.Duration(now-st.checked).Round(time.Millisecond)))
		}
	}
	return errors.Join(errs...)
}

func (r *replicaRouter) close() {
	if r.stop != nil {
		r.stop()
		r.done.Wait()
	}
	if r.primary != nil {
		r.primary.Close()
	}
	for _, node := range r.nodes {
		node.db.Close()
	}
}

// router is db's replica router, or nil without replicas.
func router(db *gorm.DB) *replicaRouter {
	r, _ := db.Config.Plugins[replicaPluginName].(*replicaRouter)
	return r
}

// ReplicasReady reports whether every configured replica takes reads (up,
// and within database.replica_max_lag of the primary), for /readyz. While
// one does not, its reads go to the primary: the server is degraded, not
// down.
func ReplicasReady(db *gorm.DB) error {
	if r := router(db); r != nil {
		return r.ready()
	}
	return nil
}
