// Package storage keeps uploaded media (videos and covers) under keys chosen by
// the server, on local disk or in Aliyun OSS, and builds the public URL of each
// object.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"
)

// Storage is what the rest of the application needs from a media store. The
// service layer declares the same small interface for itself; both backends
// in this package satisfy it.
type Storage interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	Delete(ctx context.Context, key string) error
	URL(key string) string
}

// ErrInvalidKey is wrapped by every error ValidKey returns.
var ErrInvalidKey = errors.New("invalid storage key")

// ErrSizeMismatch is returned by Put when the reader does not hold exactly
// size bytes.
var ErrSizeMismatch = errors.New("size mismatch")

// maxKeyLen is the OSS limit on object names, applied to both backends so a
// key valid on disk is valid in the bucket too.
const maxKeyLen = 1023

// ValidKey reports whether key is a safe relative object key such as
// "videos/2026/11/24/8f3a.mp4". It rejects empty keys, absolute paths, empty,
// "." and ".." segments (so also "//" and a trailing "/"), segments starting
// with a dot (the local backend keeps its temporary files under such names),
// backslashes, NUL and other control characters, invalid UTF-8 and keys longer
// than 1023 bytes.
func ValidKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(key) > maxKeyLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, maxKeyLen)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: not valid utf-8", ErrInvalidKey)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%w: control character %U", ErrInvalidKey, r)
		}
		if r == '\\' {
			return fmt.Errorf("%w: backslash", ErrInvalidKey)
		}
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("%w: absolute path", ErrInvalidKey)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%w: empty path segment", ErrInvalidKey)
		case seg == "." || seg == "..":
			return fmt.Errorf("%w: dot segment", ErrInvalidKey)
		case strings.HasPrefix(seg, "."):
			return fmt.Errorf("%w: hidden path segment", ErrInvalidKey)
		}
	}
	return nil
}

// escapeKey escapes each segment of a valid key for use in a URL path, so an
// unusual character cannot change the meaning of the URL.
func escapeKey(key string) string {
	if plainKey(key) {
		return key // what the app names its objects: nothing to escape
	}
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// plainKey reports whether key holds only characters a URL path takes
// as they are; every feed item builds two URLs, so this check saves most
// of their cost.
func plainKey(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '/' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// contentType maps the extensions the application stores to their types.
// The table is fixed here rather than taken from mime.TypeByExtension, whose answer
// depends on the files installed on the host.
func contentType(key string) string {
	switch strings.ToLower(path.Ext(key)) {
	case ".mp4", ".m4v":
		return "video/mp4"
	case ".mov":
		return "video/quicktime"
	case ".webm":
		return "video/webm"
	case ".mkv":
		return "video/x-matroska"
	case ".avi":
		return "video/x-msvideo"
	case ".flv":
		return "video/x-flv"
	case ".ts":
		return "video/mp2t"
	case ".mpg", ".mpeg":
		return "video/mpeg"
	case ".3gp":
		return "video/3gpp"
	case ".3g2":
		return "video/3gpp2"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".png":
		return "image/png"
	case ".gif":
		return "image/gif"
	case ".webp":
		return "image/webp"
	default:
		return "application/octet-stream"
	}
}

// checkBaseURL accepts an absolute http or https URL.
func checkBaseURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q is not an absolute http(s) url", name, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s %q must not carry a query or fragment", name, raw)
	}
	return nil
}
