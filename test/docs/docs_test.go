package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// markdown is one documentation file: its prose (fenced code left out),
// its code (fenced blocks and inline spans) and its headings' anchors.
type markdown struct {
	rel     string
	prose   []string // lines outside fenced blocks, inline code removed
	code    []string // fenced lines and inline spans
	anchors map[string]bool
}

var inline = regexp.MustCompile("`[^`]*`")

func read(t *testing.T, rel string) *markdown {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(Root(), rel))
	if err != nil {
		t.Fatal(err)
	}
	m := &markdown{rel: rel, anchors: map[string]bool{}}
	fenced := false
	seen := map[string]int{}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			m.code = append(m.code, line)
			continue
		}
		m.code = append(m.code, inline.FindAllString(line, -1)...)
		m.prose = append(m.prose, inline.ReplaceAllString(line, "CODE"))
		if strings.HasPrefix(line, "#") {
			a := slug(strings.TrimLeft(line, "#"))
			if n := seen[a]; n > 0 {
				m.anchors[fmt.Sprintf("%s-%d", a, n)] = true
			} else {
				m.anchors[a] = true
			}
			seen[a]++
		}
	}
	return m
}

// slug is GitHub's anchor for a heading: lower case, letters, digits,
// spaces as hyphens, hyphens and underscores kept, the rest dropped.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// files is README.md and every Markdown file under docs/.
func files(t *testing.T) []string {
	t.Helper()
	out := []string{"README.md"}
	found, err := filepath.Glob(filepath.Join(Root(), "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		out = append(out, filepath.Join("docs", filepath.Base(f)))
	}
	if len(out) < 5 {
		t.Fatalf("found only %v", out)
	}
	return out
}

var link = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestLinksResolve: every relative link in README.md and docs/ points at a
// file of the repository, and every #anchor at a heading of its file.
func TestLinksResolve(t *testing.T) {
	docs := map[string]*markdown{}
	for _, rel := range files(t) {
		docs[rel] = read(t, rel)
	}
	checked := 0
	for _, rel := range files(t) {
		m := docs[rel]
		for _, line := range m.prose {
			for _, l := range link.FindAllStringSubmatch(line, -1) {
				target := l[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				checked++
				file, anchor, _ := strings.Cut(target, "#")
				dest := rel
				if file != "" {
					dest = filepath.Clean(filepath.Join(filepath.Dir(rel), file))
					if _, err := os.Stat(filepath.Join(Root(), dest)); err != nil {
						t.Errorf("%s links to %s: no such file", rel, target)
						continue
					}
				}
				if anchor == "" {
					continue
				}
				d, ok := docs[dest]
				if !ok && strings.HasSuffix(dest, ".md") {
					d = read(t, dest)
				}
				if d == nil || !d.anchors[anchor] {
					t.Errorf("%s links to %s: %s has no heading #%s", rel, target, dest, anchor)
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d relative links found", checked)
	}
}

var makeTarget = regexp.MustCompile(`(?:^|[\s(` + "`" + `])make ([a-z][a-z0-9-]*)`)

// TestMakeTargetsExist: every `make X` the docs show is a target of the
// Makefile.
func TestMakeTargetsExist(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(Root(), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	rule := regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	for _, line := range strings.Split(string(raw), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && rule.MatchString(name) {
			targets[name] = true
		}
	}
	named := 0
	for _, rel := range files(t) {
		for _, code := range read(t, rel).code {
			for _, m := range makeTarget.FindAllStringSubmatch(code, -1) {
				named++
				if !targets[m[1]] {
					t.Errorf("%s names `make %s`, which the Makefile does not have", rel, m[1])
				}
			}
		}
	}
	if named < 10 {
		t.Errorf("only %d make targets named", named)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		" Faults against the real services (`test/fault`, part of `make test`)": "faults-against-the-real-services-testfault-part-of-make-test",
		"Chat: never twice, never skipped":                                      "chat-never-twice-never-skipped",
		"The release image (FROM scratch)":                                      "the-release-image-from-scratch",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

var namedTest = regexp.MustCompile("`(?:[a-z]+\\.)?(Test[A-Z][A-Za-z0-9_]*)")

// TestNamedTestsExist: every test the docs name as the proof of something
// is a test function of the repository.
func TestNamedTestsExist(t *testing.T) {
	defined := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]*)\(`)
	err := filepath.WalkDir(Root(), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && p != Root() {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, "_test.go") {
			raw, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range decl.FindAllStringSubmatch(string(raw), -1) {
				defined[m[1]] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, rel := range files(t) {
		raw, err := os.ReadFile(filepath.Join(Root(), rel))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range namedTest.FindAllStringSubmatch(string(raw), -1) {
			named++
			if !defined[m[1]] {
				t.Errorf("%s names %s, which is not a test of the repository", rel, m[1])
			}
		}
	}
	if named < 20 {
		t.Errorf("only %d tests named", named)
	}
}
