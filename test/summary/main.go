// Command summary runs `go test -json ...` and tells what happened: the
// package lines as go test prints them, the whole output of every test
// that failed, every skipped test with its reason, and a closing count,
// so that "ok" can never hide a skip.
//
//	go run ./test/summary go test -race -count=1 ./...
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// event is one line of go test -json (test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: summary go test -json-able command...")
		os.Exit(2)
	}
	args := append([]string{}, os.Args[2:]...)
	if filepath.Base(os.Args[1]) == "go" && len(args) > 0 && args[0] == "test" {
		args = append([]string{"test", "-json"}, args[1:]...)
	}
	cmd := exec.Command(os.Args[1], args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "summary:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "summary:", err)
		os.Exit(2)
	}
	s := read(out, os.Stdout)
	runErr := cmd.Wait()
	s.report(os.Stdout)
	if runErr != nil || s.failed > 0 {
		os.Exit(1)
	}
}

type summary struct {
	passed, failed, skipped int
	logs                    map[string][]string // package/test → its output
	skips                   []string
}

// read consumes the events, printing package lines and failures as they
// come.
func read(r io.Reader, w io.Writer) *summary {
	s := &summary{logs: map[string][]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(w, sc.Text()) // not an event: say it as it came
			continue
		}
		id := e.Package + " " + e.Test
		switch e.Action {
		case "output", "build-output":
			if e.Test == "" {
				if strings.HasPrefix(e.Output, "ok") || strings.HasPrefix(e.Output, "FAIL") || strings.HasPrefix(e.Output, "?") ||
					strings.HasPrefix(e.Output, "panic") || e.Action == "build-output" {
					fmt.Fprint(w, e.Output)
				}
				s.logs[id] = append(s.logs[id], e.Output)
				continue
			}
			s.logs[id] = append(s.logs[id], e.Output)
		case "pass":
			if e.Test != "" {
				s.passed++
			}
			delete(s.logs, id)
		case "skip":
			if e.Test != "" {
				s.skipped++
				s.skips = append(s.skips, e.Package+" "+e.Test+": "+reason(s.logs[id]))
			}
			delete(s.logs, id)
		case "fail":
			if e.Test != "" {
				s.failed++
				fmt.Fprint(w, strings.Join(s.logs[id], ""))
			} else if len(s.logs[id]) > 0 && !strings.HasPrefix(s.logs[id][len(s.logs[id])-1], "FAIL") {
				fmt.Fprint(w, strings.Join(s.logs[id], "")) // a package that failed outside its tests
			}
			delete(s.logs, id)
		}
	}
	return s
}

// reason is what a skipped test said, without the --- SKIP line.
func reason(lines []string) string {
	var out []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return "no reason given"
	}
	return strings.Join(out, " ")
}

func (s *summary) report(w io.Writer) {
	if len(s.skips) > 0 {
		sort.Strings(s.skips)
		fmt.Fprintf(w, "\nskipped (%d):\n", len(s.skips))
		for _, sk := range s.skips {
			fmt.Fprintln(w, "  "+sk)
		}
	}
	fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
}
