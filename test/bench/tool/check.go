package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/tiktok-lite/server/model"
)

// checkResult is what check found; report reads it.
type checkResult struct {
	Rows       map[string]int64 `json:"rows"`
	Mismatches map[string]int64 `json:"mismatches"` // counter -> rows whose value differs from a count of rows
	Served     struct {
		Users, Videos, Stale int64
		Examples             []string
	} `json:"served"`
	Pairs map[string]pairCheck `json:"pairs"`
}

// pairCheck compares the write pairs' states with the last request the
// script sent for each; requests still in flight when wrk stopped may or
// may not have been applied, so up to one per connection may differ.
type pairCheck struct {
	Pairs  int `json:"pairs"`
	Differ int `json:"differ"`
}

// ok reports whether every counter matched its rows and every served
// counter matched the database.
func (r *checkResult) ok() bool {
	for _, n := range r.Mismatches {
		if n != 0 {
			return false
		}
	}
	return r.Served.Stale == 0
}

// counterChecks count, per counter, the rows whose stored value differs
// from a fresh count of the rows it summarises.
func counterChecks() [][2]string {
	return [][2]string{
		{"videos.favorite_count", "SELECT COUNT(*) FROM videos v WHERE v.favorite_count <> (SELECT COUNT(*) FROM favorites f WHERE f.video_id = v.id)"},
		{"videos.comment_count", "SELECT COUNT(*) FROM videos v WHERE v.comment_count <> (SELECT COUNT(*) FROM comments c WHERE c.video_id = v.id)"},
		{"users.favorite_count", "SELECT COUNT(*) FROM users u WHERE u.favorite_count <> (SELECT COUNT(*) FROM favorites f WHERE f.user_id = u.id)"},
		{"users.total_favorited", "SELECT COUNT(*) FROM users u WHERE u.total_favorited <> (SELECT COUNT(*) FROM favorites f JOIN videos v ON v.id = f.video_id WHERE v.author_id = u.id)"},
		{"users.follow_count", "SELECT COUNT(*) FROM users u WHERE u.follow_count <> (SELECT COUNT(*) FROM follows f WHERE f.user_id = u.id)"},
		{"users.follower_count", "SELECT COUNT(*) FROM users u WHERE u.follower_count <> (SELECT COUNT(*) FROM follows f WHERE f.to_user_id = u.id)"},
		{"users.work_count", "SELECT COUNT(*) FROM users u WHERE u.work_count <> (SELECT COUNT(*) FROM videos v WHERE v.author_id = u.id)"},
	}
}

func runCheck(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	base := fs.String("base", "", "server base URL: also compare the counters it serves (optional)")
	data := fs.String("data", "", "data set written by seed (required)")
	dir := fs.String("dir", "", "directory written by prepare; its *.final files are compared (optional)")
	out := fs.String("out", "", "file for the result as JSON (optional)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ds, err := loadDataset(*data)
	if err != nil {
		return err
	}
	_, store, closeDB, err := openStore(getenv)
	if err != nil {
		return err
	}
	defer closeDB()
	db := store.DB().WithContext(ctx)

	res := &checkResult{Rows: map[string]int64{}, Mismatches: map[string]int64{}, Pairs: map[string]pairCheck{}}
	for _, t := range []string{"users", "videos", "favorites", "follows", "comments"} {
		var n int64
		if err := db.Raw("SELECT COUNT(*) FROM " + t).Scan(&n).Error; err != nil {
			return fmt.Errorf("count %s: %w", t, err)
		}
		res.Rows[t] = n
	}
	for _, c := range counterChecks() {
		var n int64
		if err := db.Raw(c[1]).Scan(&n).Error; err != nil {
			return fmt.Errorf("check %s: %w", c[0], err)
		}
		res.Mismatches[c[0]] = n
		fmt.Fprintf(stdout, "check: %-22s %d rows differ from their count\n", c[0], n)
	}
	if *base != "" {
		if err := checkServed(ctx, store, newClient(), *base, ds, res); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "check: served counters of %d users and %d videos, %d differ from the database\n",
			res.Served.Users, res.Served.Videos, res.Served.Stale)
		for _, e := range res.Served.Examples {
			fmt.Fprintln(stdout, "check:   "+e)
		}
	}
	if *dir != "" {
		for kind := range writeRoutes() {
			pc, err := checkPairs(ctx, store, kind, *dir)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			res.Pairs[kind] = pc
			fmt.Fprintf(stdout, "check: %s pairs: %d, %d not in the state last requested (in flight at stop)\n", kind, pc.Pairs, pc.Differ)
		}
	}
	if *out != "" {
		raw, err := json.Marshal(res)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*out, raw, 0o644); err != nil {
			return err
		}
	}
	if !res.ok() {
		return errors.New("check: counters do not match their rows")
	}
	return nil
}

// checkServed asks the server for every user's profile and every user's
// publish list, and compares the counters it serves (through its cache)
// with the rows.
func checkServed(ctx context.Context, store *model.Store, client *http.Client, base string, ds *dataset, res *checkResult) error {
	ids := make([]int64, len(ds.Users))
	for i, u := range ds.Users {
		ids[i] = u.ID
	}
	users, err := store.UsersByIDs(ctx, ids)
	if err != nil {
		return err
	}
	vids := make([]int64, len(ds.Videos))
	for i, v := range ds.Videos {
		vids[i] = v.ID
	}
	videos, err := store.VideosByIDs(ctx, vids)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	stale := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		res.Served.Stale++
		if len(res.Served.Examples) < 5 {
			res.Served.Examples = append(res.Served.Examples, fmt.Sprintf(format, args...))
		}
	}
	type servedUser struct {
		ID             int64 `json:"id"`
		FollowCount    int64 `json:"follow_count"`
		FollowerCount  int64 `json:"follower_count"`
		TotalFavorited int64 `json:"total_favorited"`
		WorkCount      int64 `json:"work_count"`
		FavoriteCount  int64 `json:"favorite_count"`
	}
	type servedVideo struct {
		ID            int64 `json:"id"`
		FavoriteCount int64 `json:"favorite_count"`
		CommentCount  int64 `json:"comment_count"`
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, id := range ids {
		g.Go(func() error {
			raw, _, err := call(gctx, client, http.MethodGet, base+"/douyin/user/?user_id="+strconv.FormatInt(id, 10), "")
			if err != nil {
				return err
			}
			var info struct {
				User servedUser `json:"user"`
			}
			if err := json.Unmarshal(raw, &info); err != nil {
				return err
			}
			u := users[id]
			got, want := info.User, servedUser{ID: id, FollowCount: u.FollowCount, FollowerCount: u.FollowerCount,
				TotalFavorited: u.TotalFavorited, WorkCount: u.WorkCount, FavoriteCount: u.FavoriteCount}
			if got != want {
				stale("user %d: served %+v, rows %+v", id, got, want)
			}
			raw, _, err = call(gctx, client, http.MethodGet, base+"/douyin/publish/list/?user_id="+strconv.FormatInt(id, 10), "")
			if err != nil {
				return err
			}
			var list struct {
				VideoList []servedVideo `json:"video_list"`
			}
			if err := json.Unmarshal(raw, &list); err != nil {
				return err
			}
			if int64(len(list.VideoList)) != u.WorkCount {
				stale("user %d: publish list has %d videos, work_count %d", id, len(list.VideoList), u.WorkCount)
			}
			for _, sv := range list.VideoList {
				v := videos[sv.ID]
				if v == nil || sv.FavoriteCount != v.FavoriteCount || sv.CommentCount != v.CommentCount {
					stale("video %d: served %+v, row %+v", sv.ID, sv, v)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.Served.Users++
			res.Served.Videos += int64(len(list.VideoList))
			return nil
		})
	}
	return g.Wait()
}

// checkPairs compares the state each pair is in with the state the wrk
// script last asked for (the kind.final file its done() wrote).
func checkPairs(ctx context.Context, store *model.Store, kind, dir string) (pairCheck, error) {
	finalPath := filepath.Join(dir, kind+".final")
	if _, err := os.Stat(finalPath); err != nil {
		return pairCheck{}, err
	}
	nowPath := filepath.Join(dir, kind+".now")
	if err := pairStates(ctx, store, kind, filepath.Join(dir, kind+".sel"), nowPath); err != nil {
		return pairCheck{}, err
	}
	want, err := readLinesFile(finalPath)
	if err != nil {
		return pairCheck{}, err
	}
	got, err := readLinesFile(nowPath)
	if err != nil {
		return pairCheck{}, err
	}
	now := make(map[string]string, len(got))
	for _, l := range got {
		state, pair, _ := strings.Cut(l, " ")
		now[pair] = state
	}
	var pc pairCheck
	for _, l := range want {
		state, pair, _ := strings.Cut(l, " ")
		pc.Pairs++
		if now[pair] != state {
			pc.Differ++
		}
	}
	return pc, nil
}
