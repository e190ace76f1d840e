package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// run is one wrk run as the harness recorded it: the fields of the line
// the script's done() printed, prefixed with the stack and the route.
type wrkRun struct {
	Stack, Route           string
	Requests, DurationUs   float64
	OK, Bad, Sock, Timeout float64
	P50Us, P99Us           float64
}

func (r wrkRun) rps() float64 {
	if r.DurationUs <= 0 {
		return 0
	}
	return r.Requests / (r.DurationUs / 1e6)
}

// okPerSec is the rate of answers that were a success; for the write
// routes every success changed a like or a follow.
func (r wrkRun) okPerSec() float64 {
	if r.DurationUs <= 0 {
		return 0
	}
	return r.OK / (r.DurationUs / 1e6)
}

func (r wrkRun) errors() float64 { return r.Bad + r.Sock + r.Timeout }

func parseRun(line string) (wrkRun, error) {
	var r wrkRun
	nums := map[string]*float64{
		"requests": &r.Requests, "duration_us": &r.DurationUs, "ok": &r.OK, "bad": &r.Bad,
		"sock": &r.Sock, "timeout": &r.Timeout, "p50_us": &r.P50Us, "p99_us": &r.P99Us,
	}
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		switch k {
		case "stack":
			r.Stack = v
		case "route":
			r.Route = v
		default:
			if p, ok := nums[k]; ok {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return r, fmt.Errorf("result %q: %s: %w", line, k, err)
				}
				*p = n
			}
		}
	}
	if r.Stack == "" || r.Route == "" || r.DurationUs == 0 {
		return r, fmt.Errorf("result %q: stack, route or duration missing", line)
	}
	return r, nil
}

// target is what a run must reach; zero fields set no bound.
type target struct {
	minRatio, minRPS, maxP99Ms float64
	writes                     bool // minRPS counts successful writes
}

func (t target) text() string {
	var parts []string
	if t.minRatio > 0 {
		parts = append(parts, fmt.Sprintf("≥%.0f%% of ceiling", t.minRatio*100))
	}
	if t.minRPS > 0 {
		what := "req/s"
		if t.writes {
			what = "writes/s"
		}
		parts = append(parts, fmt.Sprintf("≥%.0f %s", t.minRPS, what))
	}
	if t.maxP99Ms > 0 {
		parts = append(parts, fmt.Sprintf("p99≤%.0f ms", t.maxP99Ms))
	}
	if len(parts) == 0 {
		return "0 errors"
	}
	return strings.Join(append(parts, "0 errors"), ", ")
}

// targetFor returns the targets: the full stack with a warm cache,
// a logged-in viewer, 64 connections; the embedded default's feed.
func targetFor(stack, route string) target {
	if stack == "embedded" {
		if route == "feed_user" {
			return target{minRPS: 5000}
		}
		return target{}
	}
	switch route {
	case "feed_user":
		return target{minRatio: 0.25, maxP99Ms: 20}
	case "user_info", "comment_list":
		return target{minRatio: 0.45, maxP99Ms: 20}
	case "like", "follow":
		return target{minRPS: 4000, writes: true}
	default:
		return target{maxP99Ms: 20}
	}
}

func runReport(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	resultsPath := fs.String("results", "", "wrk results, one line per run (required)")
	sizesPath := fs.String("sizes", "", "sizes.json of the full stack (optional)")
	checkFull := fs.String("check-full", "", "check result of the full stack (optional)")
	checkEmbedded := fs.String("check-embedded", "", "check result of the embedded default (optional)")
	rssFull := fs.Float64("rss-full", 0, "peak RSS of the full-stack server, KiB")
	rssEmbedded := fs.Float64("rss-embedded", 0, "peak RSS of the embedded server, KiB")
	metaPath := fs.String("meta", "", "lines describing the machine and the run (optional)")
	out := fs.String("out", "", "markdown file to write (optional)")
	strict := fs.Bool("strict", false, "fail on missed speed targets too, not only on errors and counters")
	if err := fs.Parse(args); err != nil {
		return err
	}
	runs, err := readRuns(*resultsPath)
	if err != nil {
		return err
	}
	sizes := map[string]float64{}
	if *sizesPath != "" {
		if err := readJSON(*sizesPath, &sizes); err != nil {
			return err
		}
	}
	ceiling := map[string]wrkRun{}
	for _, r := range runs {
		if r.Stack == "ceiling" {
			ceiling[r.Route] = r
		}
	}

	var b strings.Builder
	b.WriteString("## Benchmark results\n\n")
	if *metaPath != "" {
		meta, err := readLinesFile(*metaPath)
		if err != nil {
			return err
		}
		for _, m := range meta {
			b.WriteString("- " + m + "\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("| stack | route | body | req/s | p50 | p99 | errors | ceiling req/s | share of ceiling | target | result |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	failedCorrectness, missedSpeed := false, false
	for _, r := range runs {
		if r.Stack == "ceiling" {
			continue
		}
		t := targetFor(r.Stack, r.Route)
		c, haveCeiling := ceiling[r.Route]
		ratio := 0.0
		if haveCeiling && c.rps() > 0 {
			ratio = r.rps() / c.rps()
		}
		rate := r.rps()
		if t.writes {
			rate = r.okPerSec()
		}
		var why []string
		if r.errors() > 0 {
			why = append(why, "errors")
			failedCorrectness = true
		}
		if t.minRatio > 0 && ratio < t.minRatio {
			why = append(why, "share")
		}
		if t.minRPS > 0 && rate < t.minRPS {
			why = append(why, "rate")
		}
		if t.maxP99Ms > 0 && r.P99Us/1000 > t.maxP99Ms {
			why = append(why, "p99")
		}
		result := "pass"
		if len(why) > 0 {
			result = "**MISS** (" + strings.Join(why, ", ") + ")"
			if len(why) > 1 || why[0] != "errors" {
				missedSpeed = true
			}
		}
		ceil, share := "–", "–"
		if haveCeiling {
			ceil, share = fmt.Sprintf("%.0f", c.rps()), fmt.Sprintf("%.1f%%", ratio*100)
		}
		body := "–"
		if s, ok := sizes[r.Route]; ok {
			body = fmt.Sprintf("%.1f KB", s/1000)
			if s < 1000 {
				body = fmt.Sprintf("%.0f B", s)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %.2f ms | %.2f ms | %.0f | %s | %s | %s | %s |\n",
			r.Stack, r.Route, body, r.rps(), r.P50Us/1000, r.P99Us/1000, r.errors(), ceil, share, t.text(), result)
	}
	b.WriteString("\nCeiling runs (bare gin replaying the captured answers):\n\n| route | req/s | p50 | p99 | errors |\n|---|---:|---:|---:|---:|\n")
	for _, r := range runs {
		if r.Stack == "ceiling" {
			fmt.Fprintf(&b, "| %s | %.0f | %.2f ms | %.2f ms | %.0f |\n", r.Route, r.rps(), r.P50Us/1000, r.P99Us/1000, r.errors())
		}
	}
	b.WriteString("\nCorrectness and memory:\n\n")
	for _, c := range []struct{ name, path string }{{"full", *checkFull}, {"embedded", *checkEmbedded}} {
		if c.path == "" {
			continue
		}
		var res checkResult
		if err := readJSON(c.path, &res); err != nil {
			return err
		}
		bad := int64(0)
		for _, n := range res.Mismatches {
			bad += n
		}
		verdict := "pass"
		if !res.ok() {
			verdict = "**FAIL**"
			failedCorrectness = true
		}
		fmt.Fprintf(&b, "- %s: counters vs rows after the write runs: %d rows differ (users %d, videos %d, favorites %d, follows %d, comments %d); "+
			"served counters of %d users and %d videos: %d differ; %s\n",
			c.name, bad, res.Rows["users"], res.Rows["videos"], res.Rows["favorites"], res.Rows["follows"], res.Rows["comments"],
			res.Served.Users, res.Served.Videos, res.Served.Stale, verdict)
		for kind, pc := range res.Pairs {
			fmt.Fprintf(&b, "- %s: %s pairs in the state last requested: %d of %d (the rest were in flight when wrk stopped)\n",
				c.name, kind, pc.Pairs-pc.Differ, pc.Pairs)
		}
	}
	for _, m := range []struct {
		name string
		kib  float64
	}{{"full", *rssFull}, {"embedded", *rssEmbedded}} {
		if m.kib <= 0 {
			continue
		}
		verdict := ""
		if m.name == "full" {
			verdict = "; target < 150 MB: pass"
			if m.kib/1024 >= 150 {
				verdict = "; target < 150 MB: **MISS**"
				missedSpeed = true
			}
		}
		fmt.Fprintf(&b, "- %s: server peak RSS (VmHWM) %.1f MB%s\n", m.name, m.kib/1024, verdict)
	}

	fmt.Fprint(stdout, b.String())
	if *out != "" {
		if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	switch {
	case failedCorrectness:
		return errors.New("report: errors or counter mismatches")
	case *strict && missedSpeed:
		return errors.New("report: speed targets missed")
	}
	return nil
}

func readRuns(path string) ([]wrkRun, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var runs []wrkRun
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		r, err := parseRun(sc.Text())
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, sc.Err()
}

func readJSON(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
