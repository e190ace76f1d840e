package storage

import "testing"

func TestEscapeKeyKeepsPlainKeysAndEscapesTheRest(t *testing.T) {
	for key, want := range map[string]string{
		"videos/2026/ab-c_d.mp4": "videos/2026/ab-c_d.mp4",
		"covers/x y.jpg":         "covers/x%20y.jpg",
		"videos/a?b#c.mp4":       "videos/a%3Fb%23c.mp4",
		"videos/视频.mp4":          "videos/%E8%A7%86%E9%A2%91.mp4",
		"a%2Fb/c":                "a%252Fb/c",
	} {
		if got := escapeKey(key); got != want {
			t.Errorf("escapeKey(%q) = %q, want %q", key, got, want)
		}
	}
}
