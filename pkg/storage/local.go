package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const (
	dirPerm  = 0o755
	filePerm = 0o644
	// tempPrefix starts with a dot: ValidKey refuses such segments, so a
	// half-written file can neither be requested nor collide with a key.
	tempPrefix = ".put-"
	// cacheControl lets players and proxies keep objects for a year: keys are
	// generated once and never rewritten with other content.
	cacheControl = "public, max-age=31536000, immutable"
	copyBufSize  = 256 << 10
)

// Local stores objects as files under one directory and serves them itself.
// All file access goes through os.Root, so neither a crafted key nor a
// symbolic link inside the directory can reach a file outside it.
type Local struct {
	dir      string
	mediaURL string // public base URL + "/media/"
}

// NewLocal creates dir if needed and returns a store whose objects are
// published at publicBaseURL + "/media/" + key.
func NewLocal(dir, publicBaseURL string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("local storage: dir is empty")
	}
	if err := checkBaseURL("local storage: public base url", publicBaseURL); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local storage: resolve dir: %w", err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("local storage: create dir: %w", err)
	}
	return &Local{
		dir:      abs,
		mediaURL: strings.TrimRight(publicBaseURL, "/") + "/media/",
	}, nil
}

// Dir returns the absolute directory holding the objects.
func (l *Local) Dir() string { return l.dir }

// URL returns the absolute public URL of key.
func (l *Local) URL(key string) string {
	return l.mediaURL + escapeKey(key)
}

// Put stores exactly size bytes read from r under key. The data goes to a
// temporary file in the key's directory that is renamed into place only once
// complete, so readers never see a partial object; on any failure, including
// a reader holding more or fewer than size bytes, nothing is left behind.
// contentType is not needed on disk: Handler derives it from the extension.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("local storage: negative size %d", size)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := os.OpenRoot(l.dir)
	if err != nil {
		return fmt.Errorf("local storage: open dir: %w", err)
	}
	err = putInRoot(ctx, root, key, r, size)
	if cerr := root.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("local storage: close dir: %w", cerr)
	}
	return err
}

func putInRoot(ctx context.Context, root *os.Root, key string, r io.Reader, size int64) error {
	parent := path.Dir(key)
	if parent != "." {
		if err := root.MkdirAll(parent, dirPerm); err != nil {
			return fmt.Errorf("local storage: create parent of %s: %w", key, err)
		}
	}
	tmpName, err := tempName(parent)
	if err != nil {
		return err
	}
	f, err := root.OpenFile(tmpName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return fmt.Errorf("local storage: create temp file: %w", err)
	}
	err = writeAll(ctx, f, r, size)
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("local storage: close temp file: %w", cerr)
	}
	if err == nil {
		err = root.Rename(tmpName, key)
		if err != nil {
			err = fmt.Errorf("local storage: rename into place: %w", err)
		}
	}
	if err != nil {
		if rerr := root.Remove(tmpName); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return errors.Join(err, fmt.Errorf("local storage: remove temp file: %w", rerr))
		}
		return err
	}
	return nil
}

func tempName(parent string) (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("local storage: temp name: %w", err)
	}
	return path.Join(parent, tempPrefix+hex.EncodeToString(b[:])), nil
}

// writeAll copies exactly size bytes from r to f and flushes them to disk,
// checking ctx between chunks so a cancelled request stops a long copy.
func writeAll(ctx context.Context, f *os.File, r io.Reader, size int64) error {
	// Set the mode explicitly: the process umask must not make objects
	// unreadable to a front proxy serving the directory.
	if err := f.Chmod(filePerm); err != nil {
		return fmt.Errorf("local storage: chmod: %w", err)
	}
	// Reading one byte past size tells a too-long reader from an exact one.
	src := io.LimitReader(r, size+1)
	buf := make([]byte, copyBufSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, rerr := src.Read(buf)
		if m > 0 {
			if _, werr := f.Write(buf[:m]); werr != nil {
				return fmt.Errorf("local storage: write: %w", werr)
			}
			n += int64(m)
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return fmt.Errorf("local storage: read: %w", rerr)
		}
	}
	if n != size {
		return fmt.Errorf("local storage: %w: read %d bytes, want %d", ErrSizeMismatch, n, size)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("local storage: sync: %w", err)
	}
	return nil
}

// Open returns the object stored as key and its size; the caller closes
// it. A missing key is fs.ErrNotExist.
func (l *Local) Open(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if err := ValidKey(key); err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	root, err := os.OpenRoot(l.dir)
	if err != nil {
		return nil, 0, fmt.Errorf("local storage: open dir: %w", err)
	}
	defer root.Close() // an open file outlives its root
	f, err := root.Open(key)
	if err != nil {
		return nil, 0, fmt.Errorf("local storage: open %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		closeQuietly(f)
		return nil, 0, fmt.Errorf("local storage: open %s: %w", key, errors.Join(err, fs.ErrNotExist))
	}
	return f, fi.Size(), nil
}

// Delete removes key. A missing key is not an error; a key naming a
// directory is.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := os.OpenRoot(l.dir)
	if err != nil {
		return fmt.Errorf("local storage: open dir: %w", err)
	}
	err = deleteInRoot(root, key)
	if cerr := root.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("local storage: close dir: %w", cerr)
	}
	return err
}

func deleteInRoot(root *os.Root, key string) error {
	fi, err := root.Lstat(key)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("local storage: stat %s: %w", key, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("local storage: %s is a directory", key)
	}
	if err := root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("local storage: delete %s: %w", key, err)
	}
	return nil
}

// Handler serves the stored objects with GET and HEAD, for mounting under
// /media/ with that prefix stripped. It answers 404 for anything that is not
// a regular file reached by a valid key (directories, missing files, dot
// segments whether plain or percent-encoded, absolute paths) and supports
// Range and conditional requests through http.ServeContent.
func (l *Local) Handler() http.Handler {
	return http.HandlerFunc(l.serve)
}

func (l *Local) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// r.URL.Path is already percent-decoded, so %2e%2e and %2f arrive here
	// as ".." and "/" and are judged like their plain forms.
	key := r.URL.Path
	if ValidKey(key) != nil {
		http.NotFound(w, r)
		return
	}
	f, err := os.OpenInRoot(l.dir, key)
	if err != nil {
		// Missing, not a directory on the way, or a link leading outside the
		// root: all mean there is no such object.
		http.NotFound(w, r)
		return
	}
	defer closeQuietly(f)
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType(key))
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", `"`+strconv.FormatInt(fi.ModTime().UnixNano(), 36)+"-"+strconv.FormatInt(fi.Size(), 36)+`"`)
	http.ServeContent(w, r, key, fi.ModTime(), f)
}

// closeQuietly closes a file opened read-only. Nothing was written, so a
// close error cannot lose data, and the response has already been sent:
// there is nobody left to tell.
func closeQuietly(f *os.File) {
	if err := f.Close(); err != nil {
		return
	}
}
