package storage

import (
	"errors"
	"strings"
	"testing"
)

// Both backends must satisfy the interface the services use.
var (
	_ Storage = (*Local)(nil)
	_ Storage = (*OSS)(nil)
)

func TestValidKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"videos/2026/11/24/8f3a01c1.mp4", true},
		{"covers/2026/11/24/8f3a01c1.jpg", true},
		{"a.mp4", true},
		{"a..b.mp4", true},
		{"dir/名字.mp4", true},
		{"", false},
		{"/etc/passwd", false},
		{"..", false},
		{"../secret", false},
		{"videos/../../secret", false},
		{"videos/..", false},
		{"./a.mp4", false},
		{"videos/./a.mp4", false},
		{"videos//a.mp4", false},
		{"videos/", false},
		{"videos\\a.mp4", false},
		{"..\\secret", false},
		{"a\x00.mp4", false},
		{"a\n.mp4", false},
		{"a\r.mp4", false},
		{"a\t.mp4", false},
		{"a\x7f.mp4", false},
		{"a\u0085.mp4", false},
		{"a\xff.mp4", false},
		{".hidden", false},
		{"videos/.put-123", false},
		{strings.Repeat("a", maxKeyLen), true},
		{strings.Repeat("a", maxKeyLen+1), false},
	}
	for _, tt := range tests {
		err := ValidKey(tt.key)
		if got := err == nil; got != tt.ok {
			t.Errorf("ValidKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidKey(%q) error %v does not wrap ErrInvalidKey", tt.key, err)
		}
	}
}

func TestContentType(t *testing.T) {
	tests := []struct{ key, want string }{
		{"v/a.mp4", "video/mp4"},
		{"v/a.MP4", "video/mp4"},
		{"v/a.mov", "video/quicktime"},
		{"v/a.webm", "video/webm"},
		{"v/a.mkv", "video/x-matroska"},
		{"c/a.jpg", "image/jpeg"},
		{"c/a.jpeg", "image/jpeg"},
		{"c/a.png", "image/png"},
		{"c/a", "application/octet-stream"},
		{"c/a.html", "application/octet-stream"},
	}
	for _, tt := range tests {
		if got := contentType(tt.key); got != tt.want {
			t.Errorf("contentType(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}
