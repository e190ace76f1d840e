//go:build scaleout

// Package scaleout proves the documented scale-out on a real topology
// (see topology): the Postman collection through nginx, read-your-writes
// through the writing and through another instance, requests per second
// with one, two and three instances, and kill -9 of an instance, of the
// Redis master that carries the invalidation channel and of the MariaDB
// replica under load, then every counter against its rows on the primary.
// `make scaleout` runs it; it is built only with the scaleout tag, so
// `make test` does not start the topology. SCALEOUT_README=1 writes the
// figures of a run that passed into the README's Scaling out section.
package scaleout

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/test/docs"
	"github.com/tiktok-lite/server/test/testenv"
)

var binary string

func TestMain(m *testing.M) { testenv.RunWithReleaseServer(m, &binary) }

// crossInstanceBound is how long another instance may show the value from
// before a write: its in-process layer drops the key when the delete's
// message arrives over Redis pub/sub.
const crossInstanceBound = time.Second

func TestScaleOut(t *testing.T) {
	top := bringUp(t, 3)
	var rep report
	t.Run("postman through nginx", func(t *testing.T) { postman(t, top.nginx.base) })
	t.Run("read your writes", func(t *testing.T) { rep.ryw = readYourWrites(t, top) })
	t.Run("requests per second", func(t *testing.T) { rep.rates = throughput(t, top) })
	t.Run("faults under load", func(t *testing.T) { rep.faults = faults(t, top) })
	t.Run("counters on the primary", func(t *testing.T) { countersExact(t, top) })
	rep.write(t)
}

// postman runs the client contract's collection once through nginx.
func postman(t *testing.T, base string) {
	if _, err := exec.LookPath("node"); err != nil {
		testenv.Unavailable(t, "node is not installed: %v", err)
	}
	root, _ := filepath.Abs("../..")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "test/postman/run.sh"), base)
	cmd.Env = append(os.Environ(), "POSTMAN_RUNS=1")
	out, err := cmd.CombinedOutput()
	m := regexp.MustCompile(`(?m)^\s*│\s*assertions\s*│\s*(\d+)\s*│\s*(\d+)\s*│`).FindSubmatch(out)
	if m != nil {
		t.Logf("Postman through nginx: %s assertions, %s failed", m[1], m[2])
	}
	if err != nil {
		t.Fatalf("the Postman collection through nginx: %v\n%s", err, out)
	}
}

// rywResult counts read-backs right after answered writes.
type rywResult struct {
	reads, ownStale, otherStale int
	otherLongest                time.Duration
	// otherLags is, for each read-back through another instance, how long
	// after the write's answer that instance still showed the old value:
	// 0 when its first read was fresh.
	otherLags []time.Duration
}

// lagQuantile is the q-quantile (0..1) of the cross-instance lags.
func (r rywResult) lagQuantile(q float64) time.Duration {
	if len(r.otherLags) == 0 {
		return 0
	}
	lags := slices.Clone(r.otherLags)
	slices.Sort(lags)
	return lags[min(len(lags)-1, int(q*float64(len(lags))))]
}

// readYourWrites has writers each write through one instance (likes,
// follows, comments, messages) and read every write back at once through
// that instance and through another. On the writing instance every
// read-back must show the write; on another, within crossInstanceBound.
func readYourWrites(t *testing.T, top *topology) rywResult {
	edge := newClient(top.nginx.base)
	author, authorToken := edge.register(t, "ryw-author")
	video := edge.publish(t, authorToken, author, "read your writes")
	const writers, rounds = 6, 10
	n := len(top.instances)
	var mu sync.Mutex
	var res rywResult
	var wg sync.WaitGroup
	for w := range writers {
		mine, other := newClient(top.instances[w%n].Base), newClient(top.instances[(w+1)%n].Base)
		me, token := mine.register(t, fmt.Sprintf("ryw-writer-%d", w))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 1; round <= rounds; round++ {
				on := round%2 == 1
				action := map[bool]string{true: "1", false: "2"}[on]
				text := fmt.Sprintf("writer %d round %d", w, round)
				writes := []struct {
					path   string
					params url.Values
					checks []check
				}{
					{"/douyin/favorite/action/", url.Values{"token": {token}, "video_id": {itoa(video)}, "action_type": {action}}, []check{
						listHas("favorite list", "/douyin/favorite/list/", url.Values{"token": {token}, "user_id": {itoa(me)}}, "video_list", "id", itoa(video), on),
						count("favorite_count", url.Values{"token": {token}, "user_id": {itoa(me)}}, "favorite_count", on),
					}},
					{"/douyin/relation/action/", url.Values{"token": {token}, "to_user_id": {itoa(author)}, "action_type": {action}}, []check{
						listHas("follow list", "/douyin/relation/follow/list/", url.Values{"token": {token}, "user_id": {itoa(me)}}, "user_list", "id", itoa(author), on),
						count("follow_count", url.Values{"token": {token}, "user_id": {itoa(me)}}, "follow_count", on),
						flag("is_follow", url.Values{"token": {token}, "user_id": {itoa(author)}}, on),
					}},
					{"/douyin/comment/action/", url.Values{"token": {token}, "video_id": {itoa(video)}, "action_type": {"1"}, "comment_text": {text}}, []check{
						listHas("comment list", "/douyin/comment/list/", url.Values{"token": {token}, "video_id": {itoa(video)}}, "comment_list", "content", text, true),
					}},
					{"/douyin/message/action/", url.Values{"token": {token}, "to_user_id": {itoa(author)}, "action_type": {"1"}, "content": {text}}, []check{
						listHas("chat", "/douyin/message/chat/", url.Values{"token": {token}, "to_user_id": {itoa(author)}}, "message_list", "content", text, true),
					}},
				}
				for _, wr := range writes {
					if r, err := mine.call(http.MethodPost, wr.path, wr.params); err != nil || r.Code() != 0 {
						t.Errorf("writer %d: %s: %v %v", w, wr.path, err, r)
						return
					}
					answered := time.Now()
					for _, c := range wr.checks {
						own, err := c(mine)
						if err != nil {
							t.Errorf("writer %d: %v", w, err)
							return
						}
						otherFresh, err := c(other)
						if err != nil {
							t.Errorf("writer %d: %v", w, err)
							return
						}
						waited, lag := time.Duration(0), time.Duration(0)
						if !otherFresh {
							began := time.Now()
							for !otherFresh && time.Since(began) < 5*crossInstanceBound {
								time.Sleep(2 * time.Millisecond)
								if otherFresh, err = c(other); err != nil {
									t.Errorf("writer %d: %v", w, err)
									return
								}
							}
							waited, lag = time.Since(began), time.Since(answered)
							if !otherFresh || waited > crossInstanceBound {
								t.Errorf("writer %d: %s still stale through another instance after %s", w, wr.path, waited)
							}
						}
						mu.Lock()
						res.reads += 2
						if !own {
							res.ownStale++
							t.Errorf("writer %d round %d: after %s answered 0, the writing instance's read-back was stale", w, round, wr.path)
						}
						res.otherLags = append(res.otherLags, lag)
						if waited > 0 {
							res.otherStale++
							res.otherLongest = max(res.otherLongest, waited)
						}
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("read-backs: %d; stale on the writing instance: %d; stale through another: %d, the longest %s",
		res.reads, res.ownStale, res.otherStale, res.otherLongest)
	return res
}

// check reads through c and reports whether the write shows.
type check func(c *client) (bool, error)

func listHas(what, path string, params url.Values, list, field, want string, present bool) check {
	return func(c *client) (bool, error) {
		r, err := c.call(http.MethodGet, path, params)
		if err != nil || r.Code() != 0 {
			return false, fmt.Errorf("%s through %s: %v %v", what, c.base, err, r)
		}
		found := false
		for _, item := range r.List(list) {
			found = found || fmt.Sprint(item[field]) == want || itoa(item.Int(field)) == want
		}
		return found == present, nil
	}
}

func count(field string, params url.Values, key string, on bool) check {
	return func(c *client) (bool, error) {
		r, err := c.call(http.MethodGet, "/douyin/user/", params)
		if err != nil || r.Code() != 0 {
			return false, fmt.Errorf("%s through %s: %v %v", field, c.base, err, r)
		}
		want := int64(0)
		if on {
			want = 1
		}
		return r.Obj("user").Int(key) == want, nil
	}
}

func flag(field string, params url.Values, on bool) check {
	return func(c *client) (bool, error) {
		r, err := c.call(http.MethodGet, "/douyin/user/", params)
		if err != nil || r.Code() != 0 {
			return false, fmt.Errorf("%s through %s: %v %v", field, c.base, err, r)
		}
		return r.Obj("user")[field] == on, nil
	}
}

// rate is wrk's requests per second on one route with some instances.
type rate struct {
	route     string
	instances int
	perSecond string
}

// throughput runs wrk through nginx against one, two and three instances
// on the same back end.
func throughput(t *testing.T, top *topology) []rate {
	if _, err := exec.LookPath("wrk"); err != nil {
		testenv.Unavailable(t, "wrk is not installed (apt-get install wrk): %v", err)
	}
	edge := newClient(top.nginx.base)
	id, token := edge.register(t, "wrk-viewer")
	routes := []struct{ name, path string }{
		{"feed (guest)", "/douyin/feed/"},
		{"user info", "/douyin/user/?user_id=" + itoa(id) + "&token=" + url.QueryEscape(token)},
	}
	measure := func(name, path string, k int) rate {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := exec.CommandContext(ctx, "wrk", "-t2", "-c32", "-d6s", top.nginx.base+path).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("wrk: %v\n%s", err, res)
		}
		got := rate{route: name, instances: k, perSecond: "?"}
		if m := regexp.MustCompile(`Requests/sec:\s+([\d.]+)`).FindSubmatch(res); m != nil {
			if f, err := strconv.ParseFloat(string(m[1]), 64); err == nil {
				got.perSecond = strconv.FormatFloat(f, 'f', 0, 64)
			}
		}
		if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindSubmatch(res); m != nil {
			t.Errorf("%s with %d instances: %s answers not 200", name, k, m[1])
		}
		t.Logf("%s, %d instance(s): %s req/s", name, k, got.perSecond)
		return got
	}
	// The ceiling: nginx answering by itself, on the same cores as wrk,
	// the instances and their back end.
	out := []rate{measure("nginx alone (/nginx-health)", "/nginx-health", 0)}
	defer top.nginx.serve(t, top.instances)
	for k := 1; k <= len(top.instances); k++ {
		top.nginx.serve(t, top.instances[:k])
		for _, r := range routes {
			out = append(out, measure(r.name, r.path, k))
		}
	}
	return out
}

// phase counts what the load saw while one thing happened.
type phase struct {
	name                           string
	gets, getErrs, posts, postErrs atomic.Int64
	example                        atomic.Pointer[string]
}

// faults runs mixed traffic through nginx and, phase by phase, kills an
// instance (and brings it back), the Redis master with the invalidation
// channel, and the MariaDB replica. No phase may see an error: nginx
// sends what the dead instance held on to another (GETs, and the likes,
// follows and comments its site marks safe to repeat), a Redis failover
// leaves reads on the database until the new master serves, and the
// replica's reads go to the primary.
func faults(t *testing.T, top *topology) []*phase {
	edge := newClient(top.nginx.base)
	author, authorToken := edge.register(t, "load-author")
	video := edge.publish(t, authorToken, author, "under load")
	type worker struct {
		id    int64
		token string
	}
	var workers []worker
	for i := range 8 {
		id, token := edge.register(t, fmt.Sprintf("load-%d", i))
		workers = append(workers, worker{id, token})
	}
	var current atomic.Pointer[phase]
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(top.nginx.base)
			var comment int64 // the worker's comment, deleted the round after it was added
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				// Each round likes, follows and comments; the next undoes it,
				// so the lists stay the same size whatever the phase.
				action := fmt.Sprint(1 + n/6%2)
				commenting := url.Values{"token": {w.token}, "video_id": {itoa(video)}, "action_type": {"1"}, "comment_text": {fmt.Sprintf("load %d %d", i, n)}}
				if action == "2" && comment != 0 {
					commenting = url.Values{"token": {w.token}, "video_id": {itoa(video)}, "action_type": {"2"}, "comment_id": {itoa(comment)}}
				}
				ops := []struct {
					method, path string
					params       url.Values
				}{
					{http.MethodGet, "/douyin/feed/", url.Values{"token": {w.token}}},
					{http.MethodGet, "/douyin/user/", url.Values{"token": {w.token}, "user_id": {itoa(author)}}},
					{http.MethodPost, "/douyin/favorite/action/", url.Values{"token": {w.token}, "video_id": {itoa(video)}, "action_type": {action}}},
					{http.MethodGet, "/douyin/comment/list/", url.Values{"token": {w.token}, "video_id": {itoa(video)}}},
					{http.MethodPost, "/douyin/relation/action/", url.Values{"token": {w.token}, "to_user_id": {itoa(author)}, "action_type": {action}}},
					{http.MethodPost, "/douyin/comment/action/", commenting},
				}
				op := ops[n%len(ops)]
				r, err := c.call(op.method, op.path, op.params)
				p := current.Load() // the phase the answer came in
				bad := err != nil || r.Code() != 0
				if op.path == "/douyin/comment/action/" && !bad {
					comment = 0
					if op.params.Get("action_type") == "1" {
						comment = r.Obj("comment").Int("id")
					}
				}
				if op.method == http.MethodGet {
					p.gets.Add(1)
					if bad {
						p.getErrs.Add(1)
					}
				} else {
					p.posts.Add(1)
					if bad {
						p.postErrs.Add(1)
					}
				}
				if bad {
					msg := fmt.Sprintf("%s %s: %v %v", op.method, op.path, err, r)
					p.example.CompareAndSwap(nil, &msg)
				}
			}
		}()
	}
	var phases []*phase
	run := func(name string, least time.Duration, during func()) {
		p := &phase{name: name}
		phases = append(phases, p)
		current.Store(p)
		began := time.Now()
		if during != nil {
			during()
		}
		if rest := least - time.Since(began); rest > 0 {
			time.Sleep(rest)
		}
		t.Logf("%s (%s): %d GETs, %d failed; %d POSTs, %d failed", name, time.Since(began).Round(time.Millisecond),
			p.gets.Load(), p.getErrs.Load(), p.posts.Load(), p.postErrs.Load())
	}
	run("steady", 3*time.Second, nil)

	victim := top.instances[1]
	run("kill -9 of an instance, 3 s down, restarted", 0, func() {
		victim.Kill()
		time.Sleep(3 * time.Second)
		top.start(t, victim)
	})
	run("after the instance's return", 3*time.Second, nil)

	channel := "tiktok:invalidate" // redis.prefix (default) + "invalidate"
	addr, pid := testenv.ClusterMaster(t, top.redis, channel)
	run("kill -9 of the Redis master with the invalidation channel, until failover", 0, func() {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		testenv.WaitCluster(t, top.redis, addr, 60*time.Second)
	})
	run("after the Redis failover", 3*time.Second, func() {
		waitReady(t, top, "redis", 30*time.Second)
		crossInstanceFresh(t, top)
	})

	run("kill -9 of the MariaDB replica", 3*time.Second, func() {
		top.replica.Kill()
	})
	run("after the replica's loss", 3*time.Second, func() {
		for _, in := range top.instances {
			r, err := http.Get(in.Base + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if r.StatusCode != 200 || !strings.Contains(string(body), `"replicas":"degraded"`) {
				t.Errorf("%s /readyz without the replica: HTTP %d %s, want 200 with the replicas degraded", in.Base, r.StatusCode, body)
			}
		}
	})
	close(stop)
	wg.Wait()
	if t.Failed() {
		for _, in := range top.instances {
			for _, line := range strings.Split(in.Logs.String(), "\n") {
				if strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"error"`) {
					t.Logf("%s: %.400s", in.addr, line)
				}
			}
		}
	}
	for _, p := range phases {
		if p.getErrs.Load()+p.postErrs.Load() > 0 {
			t.Errorf("%s: %d GETs and %d POSTs failed, want none; e.g. %s", p.name, p.getErrs.Load(), p.postErrs.Load(), *p.example.Load())
		}
	}
	return phases
}

// waitReady waits until every instance's /readyz says dependency is ok.
func waitReady(t *testing.T, top *topology, dependency string, limit time.Duration) {
	t.Helper()
	began := time.Now()
	for _, in := range top.instances {
		for {
			r, err := http.Get(in.Base + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if strings.Contains(string(body), `"`+dependency+`":"ok"`) {
				break
			}
			if time.Since(began) > limit {
				t.Fatalf("%s: %s not ok %s after the fault: %s", in.Base, dependency, limit, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("%s ok on every instance %s after the fault's end", dependency, time.Since(began).Round(time.Millisecond))
}

// crossInstanceFresh follows through one instance and wants every other
// instance to show it within crossInstanceBound, with their caches warm.
func crossInstanceFresh(t *testing.T, top *topology) {
	t.Helper()
	first := newClient(top.instances[0].Base)
	a, _ := first.register(t, "after-failover-a")
	_, tokenB := first.register(t, "after-failover-b")
	shows := flag("is_follow", url.Values{"token": {tokenB}, "user_id": {itoa(a)}}, true)
	for _, in := range top.instances[1:] {
		if fresh, err := shows(newClient(in.Base)); err != nil || fresh {
			t.Fatalf("before the follow: %v %v", fresh, err)
		}
	}
	first.must(t, http.MethodPost, "/douyin/relation/action/", url.Values{"token": {tokenB}, "to_user_id": {itoa(a)}, "action_type": {"1"}})
	for _, in := range top.instances[1:] {
		began := time.Now()
		for {
			fresh, err := shows(newClient(in.Base))
			if err != nil {
				t.Fatal(err)
			}
			if fresh {
				break
			}
			if time.Since(began) > crossInstanceBound {
				t.Errorf("after the Redis failover, %s still shows no follow %s after it was answered", in.Base, crossInstanceBound)
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// countersExact recomputes every counter from its rows on the primary.
func countersExact(t *testing.T, top *topology) {
	db, err := model.Open(testenv.MySQLConfigFor(top.primary.DSN(top.database)), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close(db)
	checks, err := model.CheckCounters(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if c.Wrong != 0 {
			t.Errorf("%s: %d rows disagree with their rows", c.Name, c.Wrong)
		}
	}
}

// report is what the run measured, for the README's Scaling out section.
type report struct {
	ryw    rywResult
	rates  []rate
	faults []*phase
}

func (r *report) write(t *testing.T) {
	var b strings.Builder
	cpu := "?"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(info); m != nil {
			cpu = string(m[1])
		}
	}
	fmt.Fprintf(&b, "On %d cores (%s), everything on one machine.\n\n", runtime.NumCPU(), cpu)
	fmt.Fprintf(&b, "| route through nginx | instances | requests/s |\n|---|---|---|\n")
	for _, x := range r.rates {
		n := strconv.Itoa(x.instances)
		if x.instances == 0 {
			n = "–"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", x.route, n, x.perSecond)
	}
	fmt.Fprintf(&b, "\n| phase | GETs (failed) | POSTs (failed) |\n|---|---|---|\n")
	for _, p := range r.faults {
		fmt.Fprintf(&b, "| %s | %d (%d) | %d (%d) |\n", p.name, p.gets.Load(), p.getErrs.Load(), p.posts.Load(), p.postErrs.Load())
	}
	fmt.Fprintf(&b, "\nRead-backs right after an answered write: %d; stale on the writing instance: %d; stale through another instance: %d, fresh within %s at the longest.\n",
		r.ryw.reads, r.ryw.ownStale, r.ryw.otherStale, r.ryw.otherLongest.Round(time.Millisecond))
	fmt.Fprintf(&b, "\nHow long after a write's answer another instance still served the old value (%d read-backs; 0 when its first read was fresh): p50 %s, p99 %s, max %s.\n",
		len(r.ryw.otherLags), r.ryw.lagQuantile(0.5).Round(time.Microsecond), r.ryw.lagQuantile(0.99).Round(time.Microsecond), r.ryw.lagQuantile(1).Round(time.Microsecond))
	t.Log("\n" + b.String())
	if os.Getenv("SCALEOUT_README") != "" && !t.Failed() {
		docs.Section(t, "README.md", "<!-- scaleout report -->", "<!-- /scaleout report -->", b.String(), "SCALEOUT_README=1 make scaleout", true)
	}
}
