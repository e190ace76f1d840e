package model

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// User is an account with its denormalised counters.
type User struct {
	ID              int64
	Name            string
	PasswordHash    string
	Avatar          string
	BackgroundImage string
	Signature       string
	FollowCount     int64
	FollowerCount   int64
	TotalFavorited  int64
	WorkCount       int64
	FavoriteCount   int64
	StoredBytes     int64 // of published videos; not kept in the cache
	CreatedAt       int64 `gorm:"autoCreateTime:milli"`
}

// CreateUser inserts u and sets its ID; a taken name is ErrDuplicate.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	if err := s.db.WithContext(ctx).Create(u).Error; err != nil {
		return fmt.Errorf("create user: %w", translate(err))
	}
	return nil
}

// UserByName returns the user called name, or ErrNotFound.
func (s *Store) UserByName(ctx context.Context, name string) (*User, error) {
	var u User
	if err := s.primary(ctx).Where("name = ?", name).Take(&u).Error; err != nil {
		return nil, fmt.Errorf("user by name: %w", translate(err))
	}
	return &u, nil
}

// UsersByIDs returns the users that exist among ids, keyed by id.
func (s *Store) UsersByIDs(ctx context.Context, ids []int64) (map[int64]*User, error) {
	out := make(map[int64]*User, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []*User
	if err := s.db.WithContext(ctx).Where("id IN ?", uniqueIDs(ids)).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("users by ids: %w", translate(err))
	}
	for _, u := range rows {
		out[u.ID] = u
	}
	return out, nil
}

// UserExists reports whether a user with id exists.
func (s *Store) UserExists(ctx context.Context, id int64) (bool, error) {
	var n int64
	if err := s.primary(ctx).Model(&User{}).Where("id = ?", id).Limit(1).Count(&n).Error; err != nil {
		return false, fmt.Errorf("user exists: %w", translate(err))
	}
	return n > 0, nil
}

// LockUser holds user id's row until the transaction ends, so that one
// user's writes that must see each other run one after the other (FOR
// UPDATE on MySQL; SQLite's single writer holds the whole file already),
// and reports whether the user exists. Call it inside Tx.
func (s *Store) LockUser(ctx context.Context, id int64) (bool, error) {
	sql := "SELECT id FROM users WHERE id = ?"
	if s.db.Dialector.Name() == "mysql" {
		sql += " FOR UPDATE"
	}
	var ids []int64
	if err := s.db.WithContext(ctx).Raw(sql, id).Scan(&ids).Error; err != nil {
		return false, fmt.Errorf("lock user: %w", translate(err))
	}
	return len(ids) > 0, nil
}

// Usage returns what user id has published: videos and bytes. Inside Tx
// after CreateVideo it includes every commit before this one, since the
// counters' row is locked by then.
func (s *Store) Usage(ctx context.Context, id int64) (videos, bytes int64, err error) {
	var u User
	if err := s.primary(ctx).Select("work_count", "stored_bytes").Where("id = ?", id).Take(&u).Error; err != nil {
		return 0, 0, fmt.Errorf("usage: %w", translate(err))
	}
	return u.WorkCount, u.StoredBytes, nil
}

// counterDelta is a change to one row's counter.
type counterDelta struct {
	id     int64
	column string
	by     int64
}

// bumpUsers applies counter changes to users in one statement; see bump.
func (s *Store) bumpUsers(ctx context.Context, deltas ...counterDelta) error {
	rows, ids, err := s.bump(ctx, "users", deltas)
	if err != nil {
		return err
	}
	if rows != int64(len(ids)) {
		// An account behind a still-valid token is gone; the caller rolls
		// back rather than leave a row pointing at nobody.
		return fmt.Errorf("bump user counters of %v: %w", ids, ErrUserGone)
	}
	return nil
}

// bump applies counter changes to table in one statement and returns the
// rows it changed and the ids it meant to. One UPDATE over "id IN (...)"
// locks its rows in primary-key order, the same order in every
// transaction, so two actions touching the same pair of rows (A follows B
// while B follows A) cannot deadlock on each other.
func (s *Store) bump(ctx context.Context, table string, deltas []counterDelta) (int64, []int64, error) {
	if len(deltas) == 0 {
		return 0, nil, nil
	}
	var (
		sets []string
		args []any
		ids  []int64
	)
	seen := map[int64]bool{}
	byColumn := map[string][]counterDelta{}
	var columns []string
	for _, d := range deltas {
		if _, ok := byColumn[d.column]; !ok {
			columns = append(columns, d.column)
		}
		byColumn[d.column] = append(byColumn[d.column], d)
		if !seen[d.id] {
			seen[d.id] = true
			ids = append(ids, d.id)
		}
	}
	sort.Strings(columns)
	for _, col := range columns {
		expr := col + " = " + col + " + CASE id"
		for _, d := range byColumn[col] {
			expr += " WHEN ? THEN ?"
			args = append(args, d.id, d.by)
		}
		sets = append(sets, expr+" ELSE 0 END")
	}
	args = append(args, ids)
	res := s.db.WithContext(ctx).Exec("UPDATE "+table+" SET "+strings.Join(sets, ", ")+" WHERE id IN ?", args...)
	if res.Error != nil {
		return 0, nil, fmt.Errorf("bump %s counters: %w", table, translate(res.Error))
	}
	return res.RowsAffected, ids, nil
}
