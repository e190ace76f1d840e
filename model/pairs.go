package model

import (
	"context"
	"fmt"
	"strings"
)

// Likes and follows are pair rows: (user_id, video_id) in favorites,
// (user_id, to_user_id) in follows, unique per pair. A batch of changes to
// them costs a fixed number of statements, whatever its size: read which
// of the pairs exist (locking them), replay the changes in order on that
// knowledge, then one DELETE and one INSERT for the rows whose state
// changed. The rows read are locked until the commit (FOR UPDATE on
// MySQL, where it also locks the gaps a missing pair would go in; SQLite
// runs one writing transaction at a time), so what the replay decides is
// what the statements find.

// pairChange turns the pair (user, other) on or off.
type pairChange struct {
	user, other int64
	on          bool
}

type pairKey struct{ user, other int64 }

// applyPairs applies changes to table's pairs, in order, and reports which
// changed anything: turning on a pair that is on, or off one that is off,
// changes nothing. Call it inside Tx.
func (s *Store) applyPairs(ctx context.Context, table, col string, changes []pairChange) ([]bool, error) {
	var keys []pairKey
	seen := map[pairKey]bool{}
	for _, c := range changes {
		k := pairKey{c.user, c.other}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	existed, err := s.existingPairs(ctx, table, col, keys)
	if err != nil {
		return nil, err
	}
	on := make(map[pairKey]bool, len(existed))
	for k := range existed {
		on[k] = true
	}
	changed := make([]bool, len(changes))
	touched := map[pairKey]bool{}
	for i, c := range changes {
		k := pairKey{c.user, c.other}
		if on[k] != c.on {
			on[k], changed[i], touched[k] = c.on, true, true
		}
	}
	// A pair touched and on at the end gets a new row: a like withdrawn
	// and given again in one batch counts from its last time.
	var drop, add []pairKey
	for _, k := range keys {
		if !touched[k] {
			continue
		}
		if existed[k] {
			drop = append(drop, k)
		}
		if on[k] {
			add = append(add, k)
		}
	}
	if len(drop) > 0 {
		where, args := pairsIn(col, drop)
		if err := s.db.WithContext(ctx).Exec("DELETE FROM "+table+" WHERE "+where, args...).Error; err != nil {
			return nil, fmt.Errorf("delete %s: %w", table, translate(err))
		}
	}
	if len(add) > 0 {
		now := s.nowMs()
		args := make([]any, 0, 3*len(add))
		for _, k := range add {
			args = append(args, k.user, k.other, now)
		}
		rows := strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(add)), ", ")
		err := s.db.WithContext(ctx).Exec("INSERT INTO "+table+" (user_id, "+col+", created_at) VALUES "+rows, args...).Error
		if err != nil {
			return nil, fmt.Errorf("insert %s: %w", table, translate(err))
		}
	}
	return changed, nil
}

// existingPairs returns which of keys have a row, locking them.
func (s *Store) existingPairs(ctx context.Context, table, col string, keys []pairKey) (map[pairKey]bool, error) {
	where, args := pairsIn(col, keys)
	sql := "SELECT user_id, " + col + " FROM " + table + " WHERE " + where
	if s.db.Dialector.Name() == "mysql" {
		sql += " FOR UPDATE"
	}
	rows, err := s.db.WithContext(ctx).Raw(sql, args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, translate(err))
	}
	defer rows.Close()
	out := map[pairKey]bool{}
	for rows.Next() {
		var k pairKey
		if err := rows.Scan(&k.user, &k.other); err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		out[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", table, translate(err))
	}
	return out, nil
}

// pairsIn is "(user_id, col) IN ((?, ?), …)" with its arguments.
func pairsIn(col string, keys []pairKey) (string, []any) {
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, k.user, k.other)
	}
	return "(user_id, " + col + ") IN (" + strings.TrimSuffix(strings.Repeat("(?, ?), ", len(keys)), ", ") + ")", args
}
