// Package docs checks the documentation: generated sections against what
// they are made from, and every relative link, anchor and make target the
// Markdown files name.
package docs

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Root is the repository's top directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Section compares the text between the lines start and end of the file at
// rel (from the repository's top) with want; with update it rewrites the
// section instead. remake names the command that rewrites it.
func Section(t *testing.T, rel, start, end, want, remake string, update bool) {
	t.Helper()
	path := filepath.Join(Root(), rel)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	from := strings.Index(doc, start+"\n")
	to := strings.Index(doc, end)
	if from < 0 || to < from {
		t.Fatalf("%s has no section between %q and %q", rel, start, end)
	}
	from += len(start) + 1
	if doc[from:to] == want {
		return
	}
	if update {
		if err := os.WriteFile(path, []byte(doc[:from]+want+doc[to:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got := strings.Split(doc[from:to], "\n")
	for i, line := range strings.Split(want, "\n") {
		if i >= len(got) || got[i] != line {
			g := ""
			if i < len(got) {
				g = got[i]
			}
			t.Fatalf("%s differs from what it is made from at line %d of its section:\n got  %q\n want %q\nrun `%s`", rel, i+1, g, line, remake)
		}
	}
	t.Fatalf("%s has lines past the end of what it is made from; run `%s`", rel, remake)
}
