// Package webui serves the web client: a small single-page app of plain
// HTML, CSS and JavaScript modules, embedded in the binary, that speaks to
// the server through the public /douyin/ API only, like the phone app.
//
// index.html is served at "/" and every other file under "/web/".
package webui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// assets holds the client files. go:embed can only fill a package-level
// variable; it is read-only, so it carries no state between requests.
//
//go:embed assets
var assets embed.FS

// contentType names the only kinds of file served; anything else under
// assets/ stays private, and the browser never has to guess a type.
func contentType(ext string) (string, bool) {
	switch ext {
	case ".html":
		return "text/html; charset=utf-8", true
	case ".css":
		return "text/css; charset=utf-8", true
	case ".js":
		return "text/javascript; charset=utf-8", true
	case ".svg":
		return "image/svg+xml", true
	case ".png":
		return "image/png", true
	}
	return "", false
}

// Handler serves the web client; the page tells it uploadMaxBytes, so the
// upload form names the limit and checks it. mediaOrigins are extra origins (such as
// "https://cdn.example.com") the videos, covers and avatars may be loaded
// from, for when the API's media URLs do not point at the page's own
// origin (OSS, or a configured public URL); malformed ones are ignored.
func Handler(uploadMaxBytes int64, mediaOrigins ...string) http.Handler {
	h := &handler{csp: policy(mediaOrigins), files: map[string]file{}}
	// Every file is read and given its ETag once: the vendored bundle is
	// 1.7 MB, and a copy and a hash of it per request would be wasted work.
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimPrefix(p, "assets/")
		ctype, ok := contentType(path.Ext(name))
		if !ok {
			return nil
		}
		data, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		if name == "index.html" {
			data = bytes.Replace(data, []byte(`<meta name="upload-max-bytes" content="0">`),
				[]byte(`<meta name="upload-max-bytes" content="`+strconv.FormatInt(uploadMaxBytes, 10)+`">`), 1)
		}
		sum := sha256.Sum256(data)
		h.files[name] = file{data: data, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	return h
}

// file is one servable file, prepared.
type file struct {
	data        []byte
	ctype, etag string
}

type handler struct {
	csp   string
	files map[string]file // by name under assets/; index.html with this server's settings
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := fileName(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	f, ok := h.files[name]
	if !ok {
		// Missing files, directories and private kinds alike are not there.
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	// The file names carry no version, so every load revalidates; the ETag
	// keeps that to a 304 when nothing changed.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", f.etag)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Content-Security-Policy", h.csp)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}

// fileName maps a request path to a file under assets/: "/" is the page,
// "/web/x" is x. It refuses anything that would climb out of the folder.
func fileName(p string) (string, bool) {
	if p == "/" || p == "" {
		return "index.html", true
	}
	rest, ok := strings.CutPrefix(p, "/web/")
	if !ok || rest == "" || strings.HasSuffix(rest, "/") {
		return "", false
	}
	clean := path.Clean(rest)
	if clean != rest || !fs.ValidPath(clean) {
		return "", false
	}
	return clean, true
}

// policy builds the Content-Security-Policy: scripts, styles and API calls
// from this origin only; media and images also from the given origins and
// from blob: (the upload preview) and data:.
func policy(mediaOrigins []string) string {
	extra := ""
	for _, o := range mediaOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			continue
		}
		extra += " " + u.Scheme + "://" + u.Host
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"connect-src 'self'",
		"media-src 'self' blob:" + extra,
		"img-src 'self' data: blob:" + extra,
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}
