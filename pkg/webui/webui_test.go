package webui

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func TestHandlerServes(t *testing.T) {
	h := Handler(100 << 20)
	tests := []struct {
		name     string
		path     string
		wantCode int
		wantType string
		wantBody string
	}{
		{"page at root", "/", http.StatusOK, "text/html; charset=utf-8", `<script type="module" src="/web/js/app.js">`},
		{"page names the upload limit", "/", http.StatusOK, "text/html; charset=utf-8", `<meta name="upload-max-bytes" content="104857600">`},
		{"script", "/web/js/app.js", http.StatusOK, "text/javascript; charset=utf-8", "import"},
		{"style", "/web/app.css", http.StatusOK, "text/css; charset=utf-8", ".feed"},
		{"icon", "/web/icon.svg", http.StatusOK, "image/svg+xml", "<svg"},
		{"page under web", "/web/index.html", http.StatusOK, "text/html; charset=utf-8", "<!doctype html>"},
		{"missing file", "/web/js/nope.js", http.StatusNotFound, "", ""},
		{"folder", "/web/js/", http.StatusNotFound, "", ""},
		{"web root", "/web/", http.StatusNotFound, "", ""},
		{"climbing out", "/web/../webui.go", http.StatusNotFound, "", ""},
		{"dot segment", "/web/./app.css", http.StatusNotFound, "", ""},
		{"unserved type", "/web/js", http.StatusNotFound, "", ""},
		{"outside the prefix", "/other.js", http.StatusNotFound, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.test/", nil)
			req.URL.Path = tt.path
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode {
				t.Fatalf("GET %s: got status %d, want %d", tt.path, rec.Code, tt.wantCode)
			}
			if tt.wantCode != http.StatusOK {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("GET %s: got Content-Type %q, want %q", tt.path, got, tt.wantType)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
				t.Errorf("GET %s: got Cache-Control %q, want no-cache", tt.path, got)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("GET %s: got X-Content-Type-Options %q, want nosniff", tt.path, got)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("GET %s: body does not contain %q", tt.path, tt.wantBody)
			}
		})
	}
}

func TestHandlerRevalidates(t *testing.T) {
	h := Handler(100 << 20)
	first := httptest.NewRecorder()
	h.ServeHTTP(first, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/web/app.css", nil))
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("got no ETag")
	}
	again := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/web/app.css", nil)
	req.Header.Set("If-None-Match", etag)
	h.ServeHTTP(again, req)
	if again.Code != http.StatusNotModified {
		t.Errorf("got status %d for a matching If-None-Match, want %d", again.Code, http.StatusNotModified)
	}
}

func TestPolicy(t *testing.T) {
	tests := []struct {
		name    string
		origins []string
		want    []string
		notWant []string
	}{
		{
			name:    "same origin only",
			want:    []string{"default-src 'self'", "script-src 'self'", "media-src 'self' blob:;", "img-src 'self' data: blob:;", "frame-ancestors 'none'"},
			notWant: []string{"unsafe-inline", "unsafe-eval", "*"},
		},
		{
			name:    "media elsewhere",
			origins: []string{"https://cdn.example.com/videos/", "http://127.0.0.1:8080"},
			want:    []string{"media-src 'self' blob: https://cdn.example.com http://127.0.0.1:8080;", "img-src 'self' data: blob: https://cdn.example.com http://127.0.0.1:8080;"},
		},
		{
			name:    "malformed origins dropped",
			origins: []string{"javascript:alert(1)", "cdn.example.com", "", "ftp://x.example"},
			want:    []string{"media-src 'self' blob:;"},
			notWant: []string{"javascript", "cdn.example.com", "ftp"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Handler(100<<20, tt.origins...).ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil))
			got := rec.Header().Get("Content-Security-Policy")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("got policy %q, want it to contain %q", got, w)
				}
			}
			for _, nw := range tt.notWant {
				if strings.Contains(got, nw) {
					t.Errorf("got policy %q, want no %q", got, nw)
				}
			}
		})
	}
}

// TestReferencesResolve checks that every file the page and the modules
// load is embedded, so a renamed module cannot break the app silently.
func TestReferencesResolve(t *testing.T) {
	refs := regexp.MustCompile(`(?:from\s+|import\s+|src=|href=)["'](\.{1,2}/[^"']+|/web/[^"']+)["']`)
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || (path.Ext(p) != ".js" && path.Ext(p) != ".html") {
			return nil
		}
		data, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		for _, m := range refs.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if strings.HasPrefix(target, "/web/") {
				target = "assets/" + strings.TrimPrefix(target, "/web/")
			} else {
				target = path.Join(path.Dir(p), target)
			}
			if _, err := fs.Stat(assets, target); err != nil {
				t.Errorf("%s loads %q: got %v, want an embedded file", p, m[1], err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk assets: %v", err)
	}
}

// TestNoOtherHosts keeps the client on its own origin: no absolute URL to
// any other host in the code it ships. A vendored bundle names hosts in
// its documentation links and schema ids; what it may fetch is bounded by
// the page's policy (connect-src 'self'), and the browser test fails on
// any request to another host.
func TestNoOtherHosts(t *testing.T) {
	abs := regexp.MustCompile(`https?://[^\s"'<>)]+`)
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "assets/vendor" {
			if err == nil {
				err = fs.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		data, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		for _, u := range abs.FindAllString(string(data), -1) {
			if strings.HasPrefix(u, "http://www.w3.org/2000/svg") {
				continue // the SVG namespace name, never fetched
			}
			t.Errorf("%s names %q, want no other host", p, u)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk assets: %v", err)
	}
}

// TestVendoredFilesAreAsFetched: the vendored Swagger UI is what
// vendor.sh took from the npm registry, byte for byte.
func TestVendoredFilesAreAsFetched(t *testing.T) {
	sums, err := fs.ReadFile(assets, "assets/vendor/swagger-ui/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(sums), "\n") {
		want, name, ok := strings.Cut(line, "  ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		data, err := fs.ReadFile(assets, "assets/vendor/swagger-ui/"+name)
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != want {
			t.Errorf("%s was changed since pkg/webui/vendor.sh fetched it", name)
		}
		n++
	}
	if n < 3 {
		t.Fatalf("SHA256SUMS lists %d files", n)
	}
}
