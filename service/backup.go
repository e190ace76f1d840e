package service

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/storage"
)

// A backup is one .tar.gz: manifest.json, the SQLite snapshot as
// tiktok.db (embedded setups), the JWT secret as jwt.secret when there is
// one, and every media object the snapshot's videos name under media/.
// The manifest holds each table's row count and each file's SHA-256, and
// restore checks both before anything is put in place.

// Manifest describes a backup.
type Manifest struct {
	Version   int               `json:"version"`
	CreatedAt time.Time         `json:"created_at"`
	Driver    string            `json:"driver"`
	Tables    map[string]int64  `json:"tables,omitempty"` // rows in the snapshot
	Files     map[string]string `json:"files"`            // archive path → SHA-256
	Note      string            `json:"note,omitempty"`
}

const (
	manifestName = "manifest.json"
	databaseName = "tiktok.db"
	secretName   = "jwt.secret"
	mediaDir     = "media/"
)

// BackupSource is what a backup reads: the live database, the directory of
// local media ("" when media live in OSS), and the JWT secret file ("" or
// missing when the configuration holds the secret).
type BackupSource struct {
	DB         *gorm.DB
	Driver     string
	MediaDir   string
	SecretFile string
}

// Backup writes the archive to out while the server keeps serving. For
// SQLite the database is a consistent snapshot (VACUUM INTO) taken first,
// and the media copied are those its videos name (stored before their
// rows were committed, never changed after). For MySQL the archive holds
// the local media and the manifest only: the database is for mysqldump
// --single-transaction or a replica.
func Backup(ctx context.Context, src BackupSource, out io.Writer) (*Manifest, error) {
	m := &Manifest{Version: 1, CreatedAt: time.Now().UTC(), Driver: src.Driver, Files: map[string]string{}}
	tmp, err := os.MkdirTemp("", "tiktok-backup-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	gz := gzip.NewWriter(out)
	tw := tar.NewWriter(gz)
	var keys, notes []string
	if src.Driver == "sqlite" {
		snap := filepath.Join(tmp, databaseName)
		if err := model.Snapshot(ctx, src.DB, snap); err != nil {
			return nil, err
		}
		if m.Tables, keys, err = snapshotContents(ctx, snap); err != nil {
			return nil, err
		}
		if err := addFile(tw, m, databaseName, snap); err != nil {
			return nil, err
		}
	} else {
		notes = append(notes, "the database is not in this archive: back it up with mysqldump --single-transaction (or from a replica)")
		if src.MediaDir != "" {
			if keys, err = allKeys(src.MediaDir); err != nil {
				return nil, err
			}
		}
	}
	if src.SecretFile != "" {
		if _, err := os.Stat(src.SecretFile); err == nil {
			if err := addFile(tw, m, secretName, src.SecretFile); err != nil {
				return nil, err
			}
		}
	}
	if src.MediaDir != "" {
		for _, key := range keys {
			if err := addFile(tw, m, mediaDir+key, filepath.Join(src.MediaDir, filepath.FromSlash(key))); err != nil {
				return nil, fmt.Errorf("media %s: %w", key, err)
			}
		}
	} else {
		notes = append(notes, "media live in OSS and are not in this archive")
	}
	m.Note = strings.Join(notes, "; ")
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: manifestName, Mode: 0o600, Size: int64(len(raw)), ModTime: m.CreatedAt}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(raw); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return m, gz.Close()
}

// snapshotContents counts the snapshot's rows and lists the media keys its
// videos name.
func snapshotContents(ctx context.Context, path string) (map[string]int64, []string, error) {
	db, err := model.OpenSQLiteFile(path)
	if err != nil {
		return nil, nil, err
	}
	defer model.Close(db)
	counts := map[string]int64{}
	for _, t := range model.Tables() {
		if counts[t.Name], err = model.Count(ctx, db, t); err != nil {
			return nil, nil, err
		}
	}
	keys, err := model.MediaKeys(ctx, db)
	return counts, keys, err
}

// allKeys lists every object under dir, as keys.
func allKeys(dir string) ([]string, error) {
	var keys []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if storage.ValidKey(key) == nil { // temporary files of a put in progress are not
			keys = append(keys, key)
		}
		return nil
	})
	sort.Strings(keys)
	return keys, err
}

// addFile copies the file at from into the archive as name, and records
// its checksum.
func addFile(tw *tar.Writer, m *Manifest, name, from string) error {
	f, err := os.Open(from)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), f)
	if err != nil {
		return err
	}
	if n != fi.Size() {
		return fmt.Errorf("%s changed while it was read", from)
	}
	m.Files[name] = hex.EncodeToString(h.Sum(nil))
	return nil
}

// RestoreTarget is where a restore puts things: the SQLite file, the
// local media directory, the JWT secret file. Each must not exist yet, or
// be empty (the directory).
type RestoreTarget struct {
	Database   string
	MediaDir   string
	SecretFile string
}

// ErrNotEmpty is returned by Restore when the target already holds data.
var ErrNotEmpty = errors.New("the restore target is not empty")

// Restore checks the archive from in against its manifest and puts it in
// place: every file's checksum, every table's row count, no file the
// manifest does not name. Nothing is put in place unless all of it checks.
func Restore(ctx context.Context, in io.Reader, to RestoreTarget) (*Manifest, error) {
	if _, err := os.Stat(to.Database); err == nil {
		return nil, fmt.Errorf("%w: %s exists", ErrNotEmpty, to.Database)
	}
	if entries, err := os.ReadDir(to.MediaDir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%w: %s holds files", ErrNotEmpty, to.MediaDir)
	}
	// Unpacked next to the database, so that moving it into place is a rename.
	if err := os.MkdirAll(filepath.Dir(to.Database), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(to.Database), ".restore-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	m, sums, err := unpack(in, tmp)
	if err != nil {
		return nil, err
	}
	for name, want := range m.Files {
		if sums[name] != want {
			return nil, fmt.Errorf("restore: %s: checksum does not match the manifest (or the file is missing)", name)
		}
		delete(sums, name)
	}
	for name := range sums {
		return nil, fmt.Errorf("restore: %s is in the archive but not in its manifest", name)
	}
	if _, ok := m.Files[databaseName]; !ok {
		return nil, fmt.Errorf("restore: the archive holds no database (%s)", m.Note)
	}
	counts, _, err := snapshotContents(ctx, filepath.Join(tmp, databaseName))
	if err != nil {
		return nil, err
	}
	for t, want := range m.Tables {
		if counts[t] != want {
			return nil, fmt.Errorf("restore: %s has %d rows, the manifest says %d", t, counts[t], want)
		}
	}
	if err := os.MkdirAll(to.MediaDir, 0o755); err != nil {
		return nil, err
	}
	for name := range m.Files {
		if key, ok := strings.CutPrefix(name, mediaDir); ok {
			dst := filepath.Join(to.MediaDir, filepath.FromSlash(key))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return nil, err
			}
			if err := os.Rename(filepath.Join(tmp, filepath.FromSlash(name)), dst); err != nil {
				return nil, err
			}
		}
	}
	if _, ok := m.Files[secretName]; ok && to.SecretFile != "" {
		if err := os.Rename(filepath.Join(tmp, secretName), to.SecretFile); err != nil {
			return nil, err
		}
	}
	// The database last: a server started on a half-restored directory
	// finds no database rather than one without its media.
	return m, os.Rename(filepath.Join(tmp, databaseName), to.Database)
}

// unpack writes the archive's files under dir and returns the manifest and
// each file's checksum. Only the names a backup writes are accepted.
func unpack(in io.Reader, dir string) (*Manifest, map[string]string, error) {
	gz, err := gzip.NewReader(in)
	if err != nil {
		return nil, nil, fmt.Errorf("restore: not a gzip archive: %w", err)
	}
	tr := tar.NewReader(gz)
	sums := map[string]string{}
	var m *Manifest
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("restore: read the archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			return nil, nil, fmt.Errorf("restore: %s is not a plain file", h.Name)
		}
		if h.Name == manifestName {
			m = &Manifest{}
			if err := json.NewDecoder(io.LimitReader(tr, 64<<20)).Decode(m); err != nil {
				return nil, nil, fmt.Errorf("restore: manifest: %w", err)
			}
			continue
		}
		key, isMedia := strings.CutPrefix(h.Name, mediaDir)
		if !(h.Name == databaseName || h.Name == secretName || (isMedia && storage.ValidKey(key) == nil)) || path.Clean(h.Name) != h.Name {
			return nil, nil, fmt.Errorf("restore: unexpected file %q in the archive", h.Name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(h.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return nil, nil, err
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, nil, err
		}
		hash := sha256.New()
		_, err = io.Copy(io.MultiWriter(f, hash), tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, nil, err
		}
		sums[h.Name] = hex.EncodeToString(hash.Sum(nil))
	}
	if m == nil {
		return nil, nil, errors.New("restore: the archive has no manifest")
	}
	return m, sums, nil
}
