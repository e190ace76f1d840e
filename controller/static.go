package controller

import (
	"bytes"
	"net/http"
	"strings"
	"time"
)

// Static serves a fixed set of in-memory files, the default images the
// contract needs for users without an avatar and videos without a cover.
type Static struct {
	files   map[string][]byte
	modTime time.Time
}

// NewStatic serves files by name.
func NewStatic(files map[string][]byte) *Static {
	return &Static{files: files, modTime: time.Now().Truncate(time.Second)}
}

func (s *Static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	data, ok := s.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeContent(w, r, name, s.modTime, bytes.NewReader(data))
}
