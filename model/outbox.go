package model

import (
	"context"
	"encoding/json"
	"fmt"

	"gorm.io/plugin/dbresolver"
)

// The outbox holds the cache keys each committed write made stale until
// they are deleted. A write records its keys in its own transaction, so
// that they exist exactly when the change does; the cache removes the row
// once the delete succeeded, and deletes whatever the table still holds at
// start and periodically (a process killed between its commit and its
// delete, a delete that failed).

const outboxTable = "cache_outbox"

// Stale is one write's stale keys and, once recorded, its outbox row.
type Stale struct {
	ID   int64 // 0: not in the outbox (nothing outlives the process)
	Keys []string
}

type outboxRow struct {
	ID        int64 `gorm:"primaryKey"`
	Keys      string
	CreatedAt int64
}

// RecordStale writes keys to the outbox; call it inside the transaction
// that makes them stale.
func (s *Store) RecordStale(ctx context.Context, keys []string) (Stale, error) {
	body, err := json.Marshal(keys)
	if err != nil {
		return Stale{}, fmt.Errorf("encode stale keys: %w", err)
	}
	row := outboxRow{Keys: string(body), CreatedAt: s.nowMs()}
	if err := s.db.WithContext(ctx).Table(outboxTable).Create(&row).Error; err != nil {
		return Stale{}, fmt.Errorf("record stale keys: %w", err)
	}
	return Stale{ID: row.ID, Keys: keys}, nil
}

// StaleBefore returns up to limit outbox rows written before beforeMs,
// oldest first.
func (s *Store) StaleBefore(ctx context.Context, beforeMs int64, limit int) ([]Stale, error) {
	var rows []outboxRow
	err := s.db.WithContext(ctx).Clauses(dbresolver.Write).Table(outboxTable).
		Where("created_at < ?", beforeMs).Order("id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read the outbox: %w", err)
	}
	out := make([]Stale, 0, len(rows))
	for _, r := range rows {
		st := Stale{ID: r.ID}
		if err := json.Unmarshal([]byte(r.Keys), &st.Keys); err != nil {
			// Written by RecordStale alone; a row that does not decode can
			// never be applied, and keeping it would block the sweep.
			st.Keys = nil
		}
		out = append(out, st)
	}
	return out, nil
}

// ClearStale removes outbox rows whose keys have been deleted.
func (s *Store) ClearStale(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.db.WithContext(ctx).Clauses(dbresolver.Write).Table(outboxTable).Where("id IN ?", ids).Delete(&outboxRow{}).Error; err != nil {
		return fmt.Errorf("clear the outbox: %w", err)
	}
	return nil
}
