package storage

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLocalServe requests arbitrary paths, with arbitrary Range headers,
// from the media handler over a directory that holds one object, a hidden
// file, a directory and a symbolic link out of it, next to a file outside
// it. It must never panic, answer only with the statuses a file server
// uses, serve bytes only from the one object reached by a valid key, and
// never a byte of anything else.
func FuzzLocalServe(f *testing.F) {
	root := f.TempDir()
	dir := filepath.Join(root, "media")
	object := bytes.Repeat([]byte("inside-object."), 64)
	secret := []byte("SECRET-OUTSIDE-THE-ROOT")
	hidden := []byte("HIDDEN-DOT-FILE")
	for path, data := range map[string][]byte{
		filepath.Join(dir, "v", "a.mp4"):    object,
		filepath.Join(dir, "v", ".put-tmp"): hidden,
		filepath.Join(root, "secret.txt"):   secret,
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "secret.txt"), filepath.Join(dir, "v", "link.mp4")); err != nil {
		f.Fatal(err)
	}
	l, err := NewLocal(dir, "http://localhost:8080")
	if err != nil {
		f.Fatal(err)
	}
	h := l.Handler()
	for _, s := range []struct{ path, rng string }{
		{"v/a.mp4", ""}, {"v/a.mp4", "bytes=0-9"}, {"v/a.mp4", "bytes=-5"}, {"v/a.mp4", "bytes=5-1,0-0"},
		{"v/a.mp4", "bytes=99999-"}, {"v/a.mp4", "bytes=0-1,2-3,4-5"}, {"v/link.mp4", ""}, {"v/.put-tmp", ""},
		{"../secret.txt", ""}, {"v/../../secret.txt", ""}, {"/etc/passwd", ""}, {"v//a.mp4", ""}, {"v/./a.mp4", ""},
		{"v", ""}, {"v/", ""}, {"", ""}, {"v\\a.mp4", ""}, {"v/a.mp4\x00", ""}, {"v/a.mp4/", ""},
	} {
		f.Add(s.path, s.rng, false)
		f.Add(s.path, s.rng, true)
	}
	allowed := map[int]bool{200: true, 206: true, 304: true, 404: true, 416: true}
	f.Fuzz(func(t *testing.T, path, rng string, head bool) {
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		r := httptest.NewRequest(method, "/", nil)
		r.URL.Path = path // as http.StripPrefix leaves it: already decoded
		if rng != "" {
			r.Header.Set("Range", rng)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		body := w.Body.Bytes()
		if !allowed[w.Code] {
			t.Fatalf("GET %q Range %q: status %d", path, rng, w.Code)
		}
		for _, leak := range [][]byte{secret, hidden, []byte("SECRET"), []byte("HIDDEN")} {
			if bytes.Contains(body, leak) {
				t.Fatalf("GET %q Range %q served %q", path, rng, leak)
			}
		}
		if w.Code == 200 || w.Code == 206 {
			if path != "v/a.mp4" {
				t.Fatalf("GET %q served %d bytes; only v/a.mp4 exists", path, len(body))
			}
			if w.Code == 200 && !head && !bytes.Equal(body, object) {
				t.Fatalf("GET %q: 200 with %d bytes, want the whole %d-byte object", path, len(body), len(object))
			}
		}
	})
}
