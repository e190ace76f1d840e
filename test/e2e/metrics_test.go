package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tiktok-lite/server/test/testenv"
)

// scrape returns the families a server exports, by name, with their samples.
func scrape(t *testing.T, s *server) map[string][]string {
	t.Helper()
	resp, err := http.Get(s.Metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	families := map[string][]string{}
	var family string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			family = f[2]
			families[family] = nil
			continue
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			families[family] = append(families[family], line)
		}
	}
	return families
}

// family maps a selected series name to its family: a histogram's
// _bucket, _sum and _count series belong to it.
func family(name string, families map[string][]string) string {
	if _, ok := families[name]; ok {
		return name
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if _, ok := families[base]; ok {
				return base
			}
		}
	}
	return name
}

// ours are the families the project defines: its own and the database
// pool's. The Go runtime's and the process's are the standard collectors
// (the dashboard shows goroutines and memory from them).
func ours(name string) bool {
	return strings.HasPrefix(name, "tiktok_") || strings.HasPrefix(name, "go_sql_")
}

func exprsOf(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "expr" {
				*out = append(*out, s)
				continue
			}
			exprsOf(x, out)
		}
	case []any:
		for _, x := range v {
			exprsOf(x, out)
		}
	}
}

// TestDashboardCoversEveryMetric scrapes a full-stack server after one of
// every kind of request, and one with Redis but no RabbitMQ, then checks that every family the project exports
// has a panel on the shipped Grafana dashboard, and that the dashboard and
// the alert rules select nothing the server does not export. Neither list
// is kept by hand: one is the server's, the other the shipped files'.
func TestDashboardCoversEveryMetric(t *testing.T) {
	s := start(t, "", fullStack().env(t)...)
	alice, aliceToken := s.register(t, "alice", "secret1")
	bob, bobToken := s.register(t, "bob", "secret1")
	wantCode(t, "publish", s.upload(t, map[string]string{"token": aliceToken, "title": "clip"}, "clip.mp4", mediaSample()), 0)
	feed := s.get(t, "/douyin/feed/", url.Values{"token": {bobToken}}).List("video_list")
	if len(feed) != 1 {
		t.Fatalf("feed has %d videos, want 1", len(feed))
	}
	video := itoa(feed[0].Int("id"))
	for _, step := range []struct {
		path   string
		params url.Values
	}{
		{"/douyin/favorite/action/", url.Values{"token": {bobToken}, "video_id": {video}, "action_type": {"1"}}},
		{"/douyin/comment/action/", url.Values{"token": {bobToken}, "video_id": {video}, "action_type": {"1"}, "comment_text": {"nice"}}},
		{"/douyin/relation/action/", url.Values{"token": {bobToken}, "to_user_id": {itoa(alice)}, "action_type": {"1"}}},
		{"/douyin/relation/action/", url.Values{"token": {aliceToken}, "to_user_id": {itoa(bob)}, "action_type": {"1"}}},
		{"/douyin/message/action/", url.Values{"token": {aliceToken}, "to_user_id": {itoa(bob)}, "action_type": {"1"}, "content": {"hi"}}},
	} {
		wantCode(t, step.path, s.post(t, step.path, step.params), 0)
	}
	// Read until a round is answered from the in-process layer: on a
	// loaded machine its feed may connect late, and the writes' second
	// deletes (500 ms on) empty it again.
	localHit := `tiktok_cache_hits_total{kind="video",layer="local"}`
	var families map[string][]string
	for began := time.Now(); ; {
		s.get(t, "/douyin/feed/", url.Values{"token": {bobToken}})
		s.get(t, "/douyin/user/", url.Values{"token": {bobToken}, "user_id": {itoa(alice)}})
		s.get(t, "/douyin/comment/list/", url.Values{"token": {bobToken}, "video_id": {video}})
		s.get(t, "/douyin/relation/friend/list/", url.Values{"token": {aliceToken}, "user_id": {itoa(alice)}})
		families = scrape(t, s)
		if slices.ContainsFunc(flatten(families), func(line string) bool { return strings.HasPrefix(line, localHit) }) || time.Since(began) > 10*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Redis without RabbitMQ has families of its own (the in-process retrier's).
	local := start(t, "", append(mysqlStack().env(t),
		"TIKTOK_REDIS_ADDR="+testenv.RedisAddr(t), "TIKTOK_REDIS_PREFIX=e2e:metrics:"+testenv.RandomSuffix()+":")...)
	local.get(t, "/douyin/feed/", nil)
	for name, lines := range scrape(t, local) {
		if _, ok := families[name]; !ok {
			families[name] = lines
		}
	}

	root := filepath.Join("..", "..", "docker")
	var dash any
	raw, err := os.ReadFile(filepath.Join(root, "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	var dashExprs []string
	exprsOf(dash, &dashExprs)
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	raw, err = os.ReadFile(filepath.Join(root, "prometheus-alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	var ruleExprs []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			ruleExprs = append(ruleExprs, r.Expr)
		}
	}

	shown := map[string]bool{}
	for i, e := range append(dashExprs, ruleExprs...) {
		names, err := testenv.MetricNames(e)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, n := range names {
			f := family(n, families)
			if _, ok := families[f]; !ok && n != "up" { // up is Prometheus's own
				t.Errorf("query %q selects %s, which the server does not export", e, n)
			}
			if i < len(dashExprs) {
				shown[f] = true
			}
		}
	}
	var missing []string
	for name := range families {
		if ours(name) && !shown[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no dashboard panel shows %s", strings.Join(missing, ", "))
	}

	// The labels the panels rely on.
	for _, want := range []string{
		`tiktok_http_requests_total{http_status="200",method="GET",route="/douyin/feed",status_code="0"}`,
		localHit,
		`tiktok_dependency_up{dependency="redis"} 1`,
	} {
		if !slices.ContainsFunc(flatten(families), func(line string) bool { return strings.HasPrefix(line, want) }) {
			t.Errorf("no series %s in the scrape", want)
		}
	}
	if info := families["tiktok_build_info"]; len(info) != 1 || !strings.Contains(info[0], `version="`) {
		t.Errorf("tiktok_build_info = %v, want one series with a version", info)
	}
}

func flatten(families map[string][]string) []string {
	var out []string
	for _, lines := range families {
		out = append(out, lines...)
	}
	return out
}
