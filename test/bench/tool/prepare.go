package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tiktok-lite/server/model"
)

// getRoutes are the read routes the harness drives, each with a list of
// request targets. The token, when there is one, is always the last
// parameter, so the ceiling server can find the captured answer by cutting
// it off.
func getRoutes() []string {
	return []string{"feed_guest", "feed_user", "user_info", "publish_list", "favorite_list", "comment_list", "chat_poll"}
}

// writeRoutes flip a like or a follow with every request.
func writeRoutes() map[string]string {
	return map[string]string{"like": "/douyin/favorite/action/", "follow": "/douyin/relation/action/"}
}

type member struct {
	ID    int64
	Token string
}

func runPrepare(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("prepare", flag.ContinueOnError)
	base := fs.String("base", "", "server base URL (required)")
	data := fs.String("data", "", "data set written by seed (required)")
	dir := fs.String("dir", "", "directory for the request lists and captures (required)")
	pool := fs.Int("pool", 256, "users logged in")
	lines := fs.Int("lines", 4096, "request targets per read route")
	perUser := fs.Int("pairs", 8, "like and follow pairs per pool user")
	seed := fs.Uint64("seed", 2, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || *data == "" || *dir == "" {
		return fmt.Errorf("prepare: -base, -data and -dir are required")
	}
	ds, err := loadDataset(*data)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(*seed, 0x7e57))
	client := newClient()

	start := time.Now()
	members, err := login(ctx, client, *base, ds, min(*pool, len(ds.Users)), rng)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "prepare: %d users logged in in %s\n", len(members), time.Since(start).Round(time.Millisecond))

	lists := requestLists(ds, members, *lines, rng)
	for _, r := range getRoutes() {
		if err := writeLines(filepath.Join(*dir, r+".txt"), lists[r]); err != nil {
			return err
		}
	}
	_, store, closeDB, err := openStore(getenv)
	if err != nil {
		return err
	}
	defer closeDB()
	sel := writePairs(ds, members, *perUser, rng)
	for kind, rows := range sel {
		if err := writeLines(filepath.Join(*dir, kind+".sel"), rows); err != nil {
			return err
		}
		if err := pairStates(ctx, store, kind, filepath.Join(*dir, kind+".sel"), filepath.Join(*dir, kind+".pairs")); err != nil {
			return err
		}
	}

	start = time.Now()
	n, err := capture(ctx, client, *base, *dir, lists)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "prepare: %d answers captured and checked in %s\n", n, time.Since(start).Round(time.Millisecond))
	return nil
}

func loadDataset(path string) (*dataset, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ds dataset
	if err := json.Unmarshal(raw, &ds); err != nil {
		return nil, fmt.Errorf("data set %s: %w", path, err)
	}
	return &ds, nil
}

func newClient() *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
	}
}

// envelope is the part of every answer the harness reads.
type envelope struct {
	StatusCode int32  `json:"status_code"`
	StatusMsg  string `json:"status_msg"`
	UserID     int64  `json:"user_id"`
	Token      string `json:"token"`
}

// call sends one request and returns the body of a successful answer.
func call(ctx context.Context, client *http.Client, method, target, form string) ([]byte, *envelope, error) {
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, nil, err
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, nil, fmt.Errorf("%s %s: http %d, not json: %.200s", method, target, resp.StatusCode, raw)
	}
	if resp.StatusCode != http.StatusOK || env.StatusCode != 0 {
		return nil, nil, fmt.Errorf("%s %s: http %d, status_code %d: %s", method, target, resp.StatusCode, env.StatusCode, env.StatusMsg)
	}
	return raw, &env, nil
}

// login logs a random sample of users in, a few at a time: every login
// checks a bcrypt hash, which is the point of bcrypt and slow.
func login(ctx context.Context, client *http.Client, base string, ds *dataset, n int, rng *rand.Rand) ([]member, error) {
	pick := rng.Perm(len(ds.Users))[:n]
	out := make([]member, n)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, ui := range pick {
		u := ds.Users[ui]
		g.Go(func() error {
			form := url.Values{"username": {u.Name}, "password": {ds.Password}}.Encode()
			_, env, err := call(ctx, client, http.MethodPost, base+"/douyin/user/login/", form)
			if err != nil {
				return fmt.Errorf("login %s: %w", u.Name, err)
			}
			if env.UserID != u.ID || env.Token == "" {
				return fmt.Errorf("login %s: got user %d, want %d", u.Name, env.UserID, u.ID)
			}
			out[i] = member{ID: u.ID, Token: env.Token}
			return nil
		})
	}
	return out, g.Wait()
}

// requestLists draws the targets of every read route: viewers from the
// pool, users uniformly, videos of comment lists by popularity, feed pages
// at the top or from a random point of the newest 900 videos (the pages
// the Redis timeline of 1000 videos covers).
func requestLists(ds *dataset, members []member, n int, rng *rand.Rand) map[string][]string {
	byTime := append([]seedVid(nil), ds.Videos...)
	sort.Slice(byTime, func(i, j int) bool { return byTime[i].PublishedAt > byTime[j].PublishedAt })
	window := min(len(byTime), 900)
	popular := newPowerLaw(len(ds.Popular), 10)
	friends := make(map[int64][]int64)
	follows := make(map[[2]int64]bool, len(ds.Follows))
	for _, f := range ds.Follows {
		follows[f] = true
	}
	for _, f := range ds.Follows {
		if follows[[2]int64{f[1], f[0]}] {
			friends[f[0]] = append(friends[f[0]], f[1])
		}
	}
	pollFrom := time.Now().UnixMilli()
	tok := func(m member) string { return "token=" + url.QueryEscape(m.Token) }
	feedPage := func() string {
		if rng.IntN(2) == 0 {
			return "/douyin/feed/?"
		}
		return "/douyin/feed/?latest_time=" + strconv.FormatInt(byTime[rng.IntN(window)].PublishedAt+1, 10) + "&"
	}
	user := func() string { return strconv.FormatInt(ds.Users[rng.IntN(len(ds.Users))].ID, 10) }
	out := make(map[string][]string, len(getRoutes()))
	for range n {
		m := members[rng.IntN(len(members))]
		out["feed_guest"] = append(out["feed_guest"], strings.TrimRight(feedPage(), "?&"))
		out["feed_user"] = append(out["feed_user"], feedPage()+tok(m))
		out["user_info"] = append(out["user_info"], "/douyin/user/?user_id="+user()+"&"+tok(m))
		out["publish_list"] = append(out["publish_list"], "/douyin/publish/list/?user_id="+user()+"&"+tok(m))
		out["favorite_list"] = append(out["favorite_list"], "/douyin/favorite/list/?user_id="+user()+"&"+tok(m))
		vid := ds.Popular[popular.draw(rng)]
		out["comment_list"] = append(out["comment_list"], "/douyin/comment/list/?video_id="+strconv.FormatInt(vid, 10)+"&"+tok(m))
		to := ds.Users[rng.IntN(len(ds.Users))].ID
		if f := friends[m.ID]; len(f) > 0 {
			to = f[rng.IntN(len(f))]
		}
		if to == m.ID {
			to = ds.Users[0].ID
			if to == m.ID {
				to = ds.Users[1].ID
			}
		}
		out["chat_poll"] = append(out["chat_poll"], "/douyin/message/chat/?to_user_id="+strconv.FormatInt(to, 10)+
			"&pre_msg_time="+strconv.FormatInt(pollFrom, 10)+"&"+tok(m))
	}
	return out
}

// writePairs picks, for every pool user, distinct videos to like and
// unlike and distinct users to follow and unfollow: "token user target".
// Each pair belongs to one user, and the scripts give each user's pairs
// to one wrk thread, so no two requests on one pair are ever in flight
// together.
func writePairs(ds *dataset, members []member, perUser int, rng *rand.Rand) map[string][]string {
	out := map[string][]string{}
	for _, m := range members {
		for _, vi := range rng.Perm(len(ds.Videos))[:min(perUser, len(ds.Videos))] {
			out["like"] = append(out["like"], fmt.Sprintf("%s %d %d", m.Token, m.ID, ds.Videos[vi].ID))
		}
		taken := 0
		for _, ui := range rng.Perm(len(ds.Users)) {
			if taken == perUser {
				break
			}
			if ds.Users[ui].ID == m.ID {
				continue
			}
			out["follow"] = append(out["follow"], fmt.Sprintf("%s %d %d", m.Token, m.ID, ds.Users[ui].ID))
			taken++
		}
	}
	return out
}

func runPairs(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pairs", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory written by prepare (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, store, closeDB, err := openStore(getenv)
	if err != nil {
		return err
	}
	defer closeDB()
	for kind := range writeRoutes() {
		if err := pairStates(ctx, store, kind, filepath.Join(*dir, kind+".sel"), filepath.Join(*dir, kind+".pairs")); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, "pairs: states written")
	return nil
}

// pairStates reads the selected pairs and writes "state token target" for
// the wrk script, the state (1 liked / following, 0 not) read through the
// store.
func pairStates(ctx context.Context, store *model.Store, kind, selPath, outPath string) error {
	rows, err := readPairs(selPath)
	if err != nil {
		return err
	}
	byUser := map[int64][]int64{}
	for _, r := range rows {
		byUser[r.user] = append(byUser[r.user], r.target)
	}
	state := map[[2]int64]bool{}
	for u, targets := range byUser {
		var on map[int64]bool
		if kind == "like" {
			on, err = store.LikedAmong(ctx, u, targets)
		} else {
			on, err = store.FollowingAmong(ctx, u, targets)
		}
		if err != nil {
			return err
		}
		for t := range on {
			state[[2]int64{u, t}] = true
		}
	}
	lines := make([]string, len(rows))
	for i, r := range rows {
		s := 0
		if state[[2]int64{r.user, r.target}] {
			s = 1
		}
		lines[i] = fmt.Sprintf("%d %s %d", s, r.token, r.target)
	}
	return writeLines(outPath, lines)
}

type pairRow struct {
	token        string
	user, target int64
}

func readPairs(path string) ([]pairRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []pairRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r pairRow
		if _, err := fmt.Sscanf(sc.Text(), "%s %d %d", &r.token, &r.user, &r.target); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

func writeLines(path string, lines []string) error {
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// captureKey is a target without its token: the answers differ between
// viewers only in is_follow and is_favorite, never in size by more than a
// byte per flag.
func captureKey(target string) string {
	if i := strings.Index(target, "token="); i > 0 {
		return target[:i-1]
	}
	return target
}

// capture fetches every read target once (which also warms the cache),
// checks each answer and keeps one body per key for the ceiling server;
// it adds the answer of a write from a request that changes nothing.
func capture(ctx context.Context, client *http.Client, base, dir string, lists map[string][]string) (int, error) {
	bodies := map[string]string{}
	sizes := map[string]float64{}
	var mu sync.Mutex
	total := 0
	for _, route := range getRoutes() {
		keyed := map[string]int{}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(16)
		for _, target := range lists[route] {
			g.Go(func() error {
				raw, _, err := call(gctx, client, http.MethodGet, base+target, "")
				if err != nil {
					return fmt.Errorf("capture %s: %w", route, err)
				}
				mu.Lock()
				defer mu.Unlock()
				k := captureKey(target)
				if _, ok := bodies[k]; !ok {
					bodies[k] = string(raw)
				}
				keyed[k] = len(raw)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return 0, err
		}
		sum := 0
		for _, target := range lists[route] {
			sum += keyed[captureKey(target)]
		}
		sizes[route] = float64(sum) / float64(len(lists[route]))
		total += len(lists[route])
	}
	for kind, path := range writeRoutes() {
		rows, err := readLinesFile(filepath.Join(dir, kind+".pairs"))
		if err != nil {
			return 0, err
		}
		// Undoing what is not done answers exactly like a real change and
		// leaves the data as it was.
		param := map[string]string{"like": "video_id", "follow": "to_user_id"}[kind]
		found := false
		for _, r := range rows {
			f := strings.Fields(r)
			if len(f) != 3 || f[0] != "0" {
				continue
			}
			form := url.Values{"token": {f[1]}, param: {f[2]}, "action_type": {"2"}}.Encode()
			raw, _, err := call(ctx, client, http.MethodPost, base+path, form)
			if err != nil {
				return 0, fmt.Errorf("capture %s: %w", kind, err)
			}
			bodies["POST "+path] = string(raw)
			sizes[kind] = float64(len(raw))
			found = true
			total++
			break
		}
		if !found {
			return 0, fmt.Errorf("capture %s: no pair in the off state", kind)
		}
	}
	for name, v := range map[string]any{"capture.json": bodies, "sizes.json": sizes} {
		raw, err := json.Marshal(v)
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			return 0, err
		}
	}
	return total, nil
}

func readLinesFile(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSpace(string(raw)), "\n"), nil
}
