package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testData returns n bytes that differ at every offset, so a wrong range is
// visible.
func testData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func newTestLocal(t *testing.T, base string) *Local {
	t.Helper()
	l, err := NewLocal(filepath.Join(t.TempDir(), "media"), base)
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	return l
}

// regularFiles lists every regular file under dir, relative and slash-separated.
func regularFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, rerr := filepath.Rel(dir, p)
			if rerr != nil {
				return rerr
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return out
}

func TestNewLocalValidation(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, dir, base string
		ok              bool
	}{
		{"ok", dir, "http://localhost:8080", true},
		{"ok https with path", dir, "https://cdn.example.com/app/", true},
		{"empty dir", "", "http://localhost:8080", false},
		{"empty base", dir, "", false},
		{"relative base", dir, "localhost:8080", false},
		{"ftp base", dir, "ftp://example.com", false},
		{"base with query", dir, "http://example.com/?a=1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewLocal(tt.dir, tt.base)
			if got := err == nil; got != tt.ok {
				t.Fatalf("NewLocal(%q, %q) error = %v, want ok=%v", tt.dir, tt.base, err, tt.ok)
			}
		})
	}
}

func TestNewLocalCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "media")
	if _, err := NewLocal(dir, "http://localhost:8080"); err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		t.Fatalf("dir %s not created: %v", dir, err)
	}
}

func TestLocalURL(t *testing.T) {
	tests := []struct{ base, key, want string }{
		{"http://localhost:8080", "videos/2026/11/24/ab.mp4", "http://localhost:8080/media/videos/2026/11/24/ab.mp4"},
		{"http://10.0.2.2:8080/", "covers/ab.jpg", "http://10.0.2.2:8080/media/covers/ab.jpg"},
		{"https://example.com/app//", "a b#?.mp4", "https://example.com/app/media/a%20b%23%3F.mp4"},
	}
	for _, tt := range tests {
		l := newTestLocal(t, tt.base)
		if got := l.URL(tt.key); got != tt.want {
			t.Errorf("URL(%q) with base %q = %q, want %q", tt.key, tt.base, got, tt.want)
		}
	}
}

func TestLocalRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "media")
	h, err := NewLocal(dir, "http://unused.invalid")
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	srv := httptest.NewServer(http.StripPrefix("/media/", h.Handler()))
	t.Cleanup(srv.Close)
	l, err := NewLocal(dir, srv.URL)
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}

	ctx := context.Background()
	video := testData(10_000)
	cover := testData(321)
	const vkey, ckey = "videos/2026/11/24/8f3a01c1.mp4", "covers/2026/11/24/8f3a01c1.jpg"
	if err := l.Put(ctx, vkey, bytes.NewReader(video), int64(len(video)), "video/mp4"); err != nil {
		t.Fatalf("Put video: %v", err)
	}
	if err := l.Put(ctx, ckey, bytes.NewReader(cover), int64(len(cover)), "image/jpeg"); err != nil {
		t.Fatalf("Put cover: %v", err)
	}
	if got, want := regularFiles(t, dir), []string{ckey, vkey}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("files on disk = %v, want %v", got, want)
	}

	tests := []struct {
		name, key, ctype string
		body             []byte
	}{
		{"video", vkey, "video/mp4", video},
		{"cover", ckey, "image/jpeg", cover},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(l.URL(tt.key))
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			if cerr := resp.Body.Close(); cerr != nil {
				t.Fatalf("close body: %v", cerr)
			}
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if !bytes.Equal(body, tt.body) {
				t.Fatalf("body differs: got %d bytes, want %d", len(body), len(tt.body))
			}
			checkHeader(t, resp.Header, "Content-Type", tt.ctype)
			checkHeader(t, resp.Header, "X-Content-Type-Options", "nosniff")
			checkHeader(t, resp.Header, "Accept-Ranges", "bytes")
			checkHeader(t, resp.Header, "Content-Length", fmt.Sprint(len(tt.body)))
			if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "public") || !strings.Contains(cc, "max-age=31536000") {
				t.Errorf("Cache-Control = %q, want public with a long max-age", cc)
			}
		})
	}
}

func checkHeader(t *testing.T, h http.Header, name, want string) {
	t.Helper()
	if got := h.Get(name); got != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

// serve runs one request through the handler as the router mounts it.
func serve(l *Local, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	http.StripPrefix("/media/", l.Handler()).ServeHTTP(rec, req)
	return rec
}

func putBytes(t *testing.T, l *Local, key string, data []byte) {
	t.Helper()
	if err := l.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), ""); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func TestLocalHandlerRangeHeadConditional(t *testing.T) {
	l := newTestLocal(t, "http://localhost:8080")
	data := testData(1000)
	const key = "videos/x.mp4"
	putBytes(t, l, key, data)

	t.Run("range", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/media/"+key, nil)
		req.Header.Set("Range", "bytes=0-99")
		rec := serve(l, req)
		if rec.Code != http.StatusPartialContent {
			t.Fatalf("status = %d, want 206", rec.Code)
		}
		if !bytes.Equal(rec.Body.Bytes(), data[:100]) {
			t.Fatalf("range body = %x..., want the first 100 bytes", rec.Body.Bytes()[:min(8, rec.Body.Len())])
		}
		checkHeader(t, rec.Header(), "Content-Range", "bytes 0-99/1000")
		checkHeader(t, rec.Header(), "Content-Length", "100")
		checkHeader(t, rec.Header(), "Content-Type", "video/mp4")
	})
	t.Run("middle range", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/media/"+key, nil)
		req.Header.Set("Range", "bytes=500-")
		rec := serve(l, req)
		if rec.Code != http.StatusPartialContent || !bytes.Equal(rec.Body.Bytes(), data[500:]) {
			t.Fatalf("status %d, %d bytes; want 206 with bytes 500-999", rec.Code, rec.Body.Len())
		}
	})
	t.Run("unsatisfiable range", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/media/"+key, nil)
		req.Header.Set("Range", "bytes=5000-")
		if rec := serve(l, req); rec.Code != http.StatusRequestedRangeNotSatisfiable {
			t.Fatalf("status = %d, want 416", rec.Code)
		}
	})
	t.Run("head", func(t *testing.T) {
		rec := serve(l, httptest.NewRequest(http.MethodHead, "/media/"+key, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("status = %d, want 200", rec.Code)
		}
		if rec.Body.Len() != 0 {
			t.Fatalf("HEAD body has %d bytes, want 0", rec.Body.Len())
		}
		checkHeader(t, rec.Header(), "Content-Length", "1000")
		checkHeader(t, rec.Header(), "Content-Type", "video/mp4")
	})
	t.Run("if-modified-since", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/media/"+key, nil)
		req.Header.Set("If-Modified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
		if rec := serve(l, req); rec.Code != http.StatusNotModified {
			t.Fatalf("status = %d, want 304", rec.Code)
		}
	})
	t.Run("if-none-match", func(t *testing.T) {
		first := serve(l, httptest.NewRequest(http.MethodHead, "/media/"+key, nil))
		etag := first.Header().Get("ETag")
		if etag == "" {
			t.Fatal("no ETag")
		}
		req := httptest.NewRequest(http.MethodGet, "/media/"+key, nil)
		req.Header.Set("If-None-Match", etag)
		if rec := serve(l, req); rec.Code != http.StatusNotModified {
			t.Fatalf("status = %d, want 304", rec.Code)
		}
	})
	t.Run("post refused", func(t *testing.T) {
		rec := serve(l, httptest.NewRequest(http.MethodPost, "/media/"+key, strings.NewReader("x")))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("status = %d, want 405", rec.Code)
		}
		checkHeader(t, rec.Header(), "Allow", "GET, HEAD")
	})
}

func TestLocalHandlerNotFound(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "media")
	l, err := NewLocal(dir, "http://localhost:8080")
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	const secret = "top secret content"
	if err := os.WriteFile(filepath.Join(base, "secret.txt"), []byte(secret), 0o600); err != nil {
		t.Fatalf("write secret: %v", err)
	}
	putBytes(t, l, "videos/a.mp4", testData(10))
	// A link inside the directory that leads outside it must not be followed.
	if err := os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(dir, "videos", "link.mp4")); err != nil {
		t.Fatalf("symlink: %v", err)
	}
	// A leftover temporary file must never be served.
	if err := os.WriteFile(filepath.Join(dir, "videos", tempPrefix+"abc"), []byte(secret), 0o600); err != nil {
		t.Fatalf("write temp: %v", err)
	}

	targets := []string{
		"/media/videos/missing.mp4",
		"/media/videos",
		"/media/videos/",
		"/media/",
		"/media/videos/a.mp4/",
		"/media/videos/a.mp4/x",
		"/media/../secret.txt",
		"/media/videos/../../secret.txt",
		"/media/%2e%2e/secret.txt",
		"/media/%2E%2E/secret.txt",
		"/media/..%2fsecret.txt",
		"/media/..%2Fsecret.txt",
		"/media/%2e%2e%2fsecret.txt",
		"/media/videos/..%2f..%2fsecret.txt",
		"/media/..%5csecret.txt",
		"/media//etc/passwd",
		"/media/%2fetc%2fpasswd",
		"/media/" + filepath.ToSlash(filepath.Join(base, "secret.txt")),
		"/media/videos/link.mp4",
		"/media/videos/" + tempPrefix + "abc",
		"/media/videos/a.mp4%00",
	}
	for _, target := range targets {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			rec := serve(l, httptest.NewRequest(method, target, nil))
			if rec.Code != http.StatusNotFound {
				t.Errorf("%s %s: status = %d, want 404", method, target, rec.Code)
			}
			if strings.Contains(rec.Body.String(), secret) {
				t.Errorf("%s %s: leaked the secret", method, target)
			}
		}
	}
	// The control: the same handler does serve the real object.
	if rec := serve(l, httptest.NewRequest(http.MethodGet, "/media/videos/a.mp4", nil)); rec.Code != http.StatusOK {
		t.Fatalf("control GET status = %d, want 200", rec.Code)
	}
}

func TestLocalPutOverwrite(t *testing.T) {
	l := newTestLocal(t, "http://localhost:8080")
	putBytes(t, l, "c/a.jpg", []byte("first version"))
	putBytes(t, l, "c/a.jpg", []byte("second"))
	got, err := os.ReadFile(filepath.Join(l.Dir(), "c", "a.jpg"))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != "second" {
		t.Fatalf("content = %q, want %q", got, "second")
	}
	fi, err := os.Stat(filepath.Join(l.Dir(), "c", "a.jpg"))
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != filePerm {
		t.Fatalf("mode = %o, want %o", perm, filePerm)
	}
}

// failingReader yields good bytes, then an error, like a dropped upload.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestLocalPutFailureLeavesNothing(t *testing.T) {
	errDropped := errors.New("connection dropped")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		key     string
		r       io.Reader
		size    int64
		wantErr error
	}{
		{"reader error midway", context.Background(), "videos/a.mp4", &failingReader{data: testData(300_000), err: errDropped}, 1_000_000, errDropped},
		{"short reader", context.Background(), "videos/a.mp4", bytes.NewReader(testData(10)), 11, ErrSizeMismatch},
		{"long reader", context.Background(), "videos/a.mp4", bytes.NewReader(testData(12)), 11, ErrSizeMismatch},
		{"cancelled", cancelled, "videos/a.mp4", bytes.NewReader(testData(10)), 10, context.Canceled},
		{"invalid key", context.Background(), "../a.mp4", bytes.NewReader(testData(10)), 10, ErrInvalidKey},
		{"negative size", context.Background(), "videos/a.mp4", bytes.NewReader(nil), -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLocal(t, "http://localhost:8080")
			err := l.Put(tt.ctx, tt.key, tt.r, tt.size, "video/mp4")
			if err == nil {
				t.Fatal("Put succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Put error = %v, want %v", err, tt.wantErr)
			}
			if files := regularFiles(t, l.Dir()); len(files) != 0 {
				t.Fatalf("files left behind: %v", files)
			}
		})
	}
}

// cancelAfterReader cancels its context after the first chunk, as a client
// hanging up mid-upload would.
type cancelAfterReader struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelAfterReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.cancel()
	return n, err
}

func TestLocalPutCancelledMidway(t *testing.T) {
	l := newTestLocal(t, "http://localhost:8080")
	ctx, cancel := context.WithCancel(context.Background())
	data := testData(3 * copyBufSize)
	err := l.Put(ctx, "videos/a.mp4", &cancelAfterReader{r: bytes.NewReader(data), cancel: cancel}, int64(len(data)), "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put error = %v, want context.Canceled", err)
	}
	if files := regularFiles(t, l.Dir()); len(files) != 0 {
		t.Fatalf("files left behind: %v", files)
	}
}

func TestLocalDelete(t *testing.T) {
	l := newTestLocal(t, "http://localhost:8080")
	ctx := context.Background()
	const key = "videos/2026/a.mp4"
	putBytes(t, l, key, testData(10))
	for i := range 2 {
		if err := l.Delete(ctx, key); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if _, err := os.Stat(filepath.Join(l.Dir(), "videos", "2026", "a.mp4")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("file still there after Delete: %v", err)
	}
	if rec := serve(l, httptest.NewRequest(http.MethodGet, "/media/"+key, nil)); rec.Code != http.StatusNotFound {
		t.Fatalf("GET after Delete: status %d, want 404", rec.Code)
	}
	if err := l.Delete(ctx, "never/was/there.mp4"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	if err := l.Delete(ctx, "videos/2026/a.mp4/below"); err != nil {
		t.Fatalf("Delete below a missing key: %v", err)
	}
	if err := l.Delete(ctx, "videos"); err == nil {
		t.Fatal("Delete of a directory succeeded, want an error")
	}
	if err := l.Delete(ctx, "../x"); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("Delete(../x) = %v, want ErrInvalidKey", err)
	}
}

func TestLocalConcurrentPuts(t *testing.T) {
	l := newTestLocal(t, "http://localhost:8080")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			data := testData(1000 + i)
			key := fmt.Sprintf("videos/2026/11/%02d.mp4", i%4) // same directories, some same keys
			errs <- l.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), "")
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Put: %v", err)
		}
	}
	files := regularFiles(t, l.Dir())
	if len(files) != 4 {
		t.Fatalf("files = %v, want 4 objects and no temp files", files)
	}
}
