package fault

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// counterChecks compare every stored counter with the rows it counts.
var counterChecks = []struct{ name, query string }{
	{"users.follow_count", `SELECT u.id, u.follow_count, (SELECT COUNT(*) FROM follows f WHERE f.user_id = u.id) FROM users u`},
	{"users.follower_count", `SELECT u.id, u.follower_count, (SELECT COUNT(*) FROM follows f WHERE f.to_user_id = u.id) FROM users u`},
	{"users.favorite_count", `SELECT u.id, u.favorite_count, (SELECT COUNT(*) FROM favorites f WHERE f.user_id = u.id) FROM users u`},
	{"users.total_favorited", `SELECT u.id, u.total_favorited, (SELECT COUNT(*) FROM favorites f JOIN videos v ON v.id = f.video_id WHERE v.author_id = u.id) FROM users u`},
	{"users.work_count", `SELECT u.id, u.work_count, (SELECT COUNT(*) FROM videos v WHERE v.author_id = u.id) FROM users u`},
	{"videos.favorite_count", `SELECT v.id, v.favorite_count, (SELECT COUNT(*) FROM favorites f WHERE f.video_id = v.id) FROM videos v`},
	{"videos.comment_count", `SELECT v.id, v.comment_count, (SELECT COUNT(*) FROM comments c WHERE c.video_id = v.id) FROM videos v`},
}

// checkCounters fails t for every counter that differs from its rows.
func checkCounters(t *testing.T, db *sql.DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, c := range counterChecks {
		rows, err := db.QueryContext(ctx, c.query)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		n := 0
		for rows.Next() {
			var id, stored, counted int64
			if err := rows.Scan(&id, &stored, &counted); err != nil {
				rows.Close()
				t.Fatalf("%s: %v", c.name, err)
			}
			n++
			if stored != counted {
				t.Errorf("%s of id %d = %d, rows say %d", c.name, id, stored, counted)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		rows.Close()
		if n == 0 {
			t.Errorf("%s: no rows to check", c.name)
		}
	}
}

// count runs a COUNT(*) query.
func count(t *testing.T, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// deleteRedisPrefix removes the keys a test's servers left under prefix.
func deleteRedisPrefix(t *testing.T, addr, prefix string) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan redis %s*: %v", prefix, err)
		return
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := rdb.Del(ctx, keys[:n]...).Err(); err != nil {
			t.Errorf("clean redis: %v", err)
			return
		}
		keys = keys[n:]
	}
}

// bounded fails t unless a was answered within limit.
func bounded(t *testing.T, what string, a answer, limit time.Duration) {
	t.Helper()
	if a.took > limit {
		t.Errorf("%s: answered after %s, bound %s", what, a.took.Round(time.Millisecond), limit)
	}
}

// wantCodes fails t unless a is an envelope with one of codes, and an
// error code comes with a message that is fit for a person.
func wantCodes(t *testing.T, what string, a answer, codes ...int64) {
	t.Helper()
	if a.err != nil {
		t.Errorf("%s: no answer after %s: %v", what, a.took.Round(time.Millisecond), a.err)
		return
	}
	for _, c := range codes {
		if a.Code() == c {
			if c != 0 && a.Msg() == "" {
				t.Errorf("%s: code %d without status_msg", what, c)
			}
			return
		}
	}
	t.Errorf("%s: status_code %d (%q), want one of %v", what, a.Code(), a.Msg(), codes)
}

func describe(a answer) string {
	if a.err != nil {
		return fmt.Sprintf("error %v after %s", a.err, a.took.Round(time.Millisecond))
	}
	return fmt.Sprintf("code %d %q after %s", a.Code(), a.Msg(), a.took.Round(time.Millisecond))
}
