package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// The command line refuses what it does not know instead of starting on
// the default port, and --help names what there is.
func TestCommandLine(t *testing.T) {
	out, err := command(t, "serve")
	if err == nil || !strings.Contains(out, `unknown argument "serve"`) {
		t.Errorf("tiktok-server serve: %v\n%s", err, out)
	}
	out, err = command(t, "--help")
	if err != nil {
		t.Errorf("--help: %v\n%s", err, out)
	}
	for _, want := range []string{"-config", "transfer", "backup", "restore", "TIKTOK_"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help does not mention %q:\n%s", want, out)
		}
	}
	for _, sub := range []string{"transfer", "backup", "restore"} {
		if out, err := command(t, sub, "--help"); err != nil || !strings.Contains(out, "usage") && !strings.Contains(out, "-config") {
			t.Errorf("%s --help: %v\n%s", sub, err, out)
		}
	}
	if out, err := command(t, "--version"); err != nil || !strings.HasPrefix(out, "tiktok-server ") || !strings.Contains(out, "commit") {
		t.Errorf("--version: %v\n%s", err, out)
	}
	if out, err := command(t, "--config", "/nonexistent.yaml"); err == nil || !strings.Contains(out, "nonexistent.yaml") {
		t.Errorf("a missing config file: %v\n%s", err, out)
	}
}

// A duration without a unit is refused with its key, rather than read as
// nanoseconds.
func TestDurationWithoutAUnit(t *testing.T) {
	cfg := writeConfig(t, t.TempDir(), "server:\n  request_timeout: 30\n")
	out, err := command(t, "--config", cfg)
	if err == nil || !strings.Contains(out, "request_timeout") || !strings.Contains(out, "unit") {
		t.Errorf("request_timeout: 30: %v\n%s", err, out)
	}
}

// HEAD / answers like GET /.
func TestHeadOfTheWebClient(t *testing.T) {
	s := start(t, "")
	for _, path := range []string{"/", "/web/js/app.js"} {
		get, err := http.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		get.Body.Close()
		head, err := http.Head(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		head.Body.Close()
		if head.StatusCode != get.StatusCode || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
			t.Errorf("HEAD %s: %d %q; GET: %d %q", path, head.StatusCode, head.Header.Get("Content-Type"), get.StatusCode, get.Header.Get("Content-Type"))
		}
	}
}
