package media

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needFFmpeg returns Covers backed by ffmpeg, or skips: ffmpeg is optional
// for the server. Under CI=true a missing binary is tolerated, but an ffmpeg
// on PATH that Covers cannot use is a failure.
func needFFmpeg(t *testing.T) *Covers {
	t.Helper()
	c := NewCovers("", 60*time.Second)
	if c.Available() {
		return c
	}
	if _, err := exec.LookPath("ffmpeg"); err == nil && os.Getenv("CI") == "true" {
		t.Fatal("ffmpeg is on PATH but Covers did not find it")
	}
	t.Skip("ffmpeg not found on PATH; covers fall back to DefaultCover")
	return nil
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

func TestExtractSample(t *testing.T) {
	c := needFFmpeg(t)
	// An awkward but legal file name must reach ffmpeg unchanged.
	path := writeFile(t, "my clip (1) -y.mp4", SampleVideo())
	out, err := c.Extract(context.Background(), path)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	img, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("cover is not a decodable jpeg: %v", err)
	}
	if got := img.Bounds().Size(); got.X != 360 || got.Y != 640 {
		t.Fatalf("cover size = %v, want 360x640 (the video's own size)", got)
	}
}

func TestExtractScalesShortWideClip(t *testing.T) {
	c := needFFmpeg(t)
	// 0.2 s is shorter than the 0.5 s seek, so the first frame is used.
	path := filepath.Join(t.TempDir(), "wide.mp4")
	out, err := exec.Command(c.ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=0.2",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", path).CombinedOutput()
	if err != nil {
		t.Skipf("this ffmpeg cannot write h264: %v: %s", err, out)
	}
	jpg, err := c.Extract(context.Background(), path)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	img, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		t.Fatalf("cover is not a decodable jpeg: %v", err)
	}
	if got := img.Bounds().Size(); got.X != MaxCoverWidth || got.Y < 404 || got.Y > 406 {
		t.Fatalf("cover size = %v, want %dx405 (give or take one row)", got, MaxCoverWidth)
	}
}

// lookAlikes are files whose first bytes pass Sniff but that hold no video
// ffmpeg can decode.
func lookAlikes() map[string][]byte {
	html := []byte("<html><body><script>alert(1)</script></body></html>")
	ts := bytes.Repeat(append([]byte{0x47}, make([]byte, 187)...), 4)
	return map[string][]byte{
		"mdat then HTML": append([]byte("\x00\x00\x00\x08mdat"), html...),
		"MPEG-TS sync":   ts,
		"AVI header":     append([]byte("RIFF\x00\x10\x00\x00AVI LIST"), html...),
		"FLV header":     append([]byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"), html...),
		"ftyp then HTML": append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), html...),
		"cut-off MP4":    SampleVideo()[:2000],
	}
}

func TestLookAlikesPassSniff(t *testing.T) {
	for name, data := range lookAlikes() {
		if _, ok := Sniff(data); !ok {
			t.Errorf("%s: Sniff refuses it; the ffmpeg check is then not what stops it", name)
		}
	}
}

func TestExtractRejectsNonVideo(t *testing.T) {
	c := needFFmpeg(t)
	dir := t.TempDir()
	audio := filepath.Join(dir, "tone.m4a")
	if out, err := exec.Command(c.ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", audio).CombinedOutput(); err != nil {
		t.Fatalf("make audio file: %v: %s", err, out)
	}
	tests := []struct{ name, path string }{
		{"text", writeFile(t, "notes.mp4", []byte("hello, this is not a video\n"))},
		{"empty", writeFile(t, "empty.mp4", nil)},
		{"image", writeFile(t, "cover.jpg", DefaultCover())},
		{"audio only", audio},
		{"missing", filepath.Join(dir, "missing.mp4")},
		{"playlist", writeFile(t, "list.m3u8", []byte("#EXTM3U\n#EXTINF:1,\nhttp://127.0.0.1:1/x.ts\n"))},
	}
	// Files that pass Sniff, as a hostile uploader makes them.
	for name, data := range lookAlikes() {
		tests = append(tests, struct{ name, path string }{name, writeFile(t, "look-alike.bin", data)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.Extract(context.Background(), tt.path)
			if err == nil {
				t.Fatalf("Extract(%s) returned %d bytes, want an error", tt.name, len(out))
			}
			if tt.name != "missing" && !errors.Is(err, ErrNoVideo) {
				t.Errorf("Extract(%s) = %v, want ErrNoVideo", tt.name, err)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error is %d characters long, want a short one: %v", len(err.Error()), err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}

func TestExtractTimeout(t *testing.T) {
	needFFmpeg(t)
	path := writeFile(t, "sample.mp4", SampleVideo())
	c := NewCovers("", time.Nanosecond)
	start := time.Now()
	_, err := c.Extract(context.Background(), path)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Extract error = %v, want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Extract took %v to time out", took)
	}
}

func TestExtractCancelled(t *testing.T) {
	c := needFFmpeg(t)
	path := writeFile(t, "sample.mp4", SampleVideo())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Extract(ctx, path); !errors.Is(err, context.Canceled) {
		t.Fatalf("Extract error = %v, want context.Canceled", err)
	}
}

func TestCoversUnavailable(t *testing.T) {
	notExec := writeFile(t, "ffmpeg", []byte("#!/bin/sh\n"))
	tests := []struct{ name, path string }{
		{"missing binary", filepath.Join(t.TempDir(), "no-ffmpeg")},
		{"not executable", notExec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCovers(tt.path, time.Second)
			if c.Available() {
				t.Fatalf("Available() = true for %s", tt.path)
			}
			if _, err := c.Extract(context.Background(), "x.mp4"); !errors.Is(err, ErrNoFFmpeg) {
				t.Fatalf("Extract error = %v, want ErrNoFFmpeg", err)
			}
		})
	}
}

func TestCappedBuffer(t *testing.T) {
	strict := &cappedBuffer{max: 4, failOnOverflow: true}
	if _, err := strict.Write([]byte("abc")); err != nil {
		t.Fatalf("write within cap: %v", err)
	}
	if _, err := strict.Write([]byte("de")); !errors.Is(err, errOutputTooLarge) {
		t.Fatalf("write past cap error = %v, want errOutputTooLarge", err)
	}
	lax := &cappedBuffer{max: 4}
	for _, s := range []string{"abc", "defg", "h"} {
		if n, err := lax.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write(%q) = %d, %v; want %d, nil", s, n, err, len(s))
		}
	}
	if got := lax.String(); got != "abcd" {
		t.Fatalf("kept %q, want %q", got, "abcd")
	}
}

func TestShortDetail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"one line\n", "one line"},
		{"first\nfile.mp4: Invalid data found when processing input\n\n", "file.mp4: Invalid data found when processing input"},
		{strings.Repeat("x", 300), strings.Repeat("x", errDetailLen) + "..."},
	}
	for _, tt := range tests {
		if got := shortDetail(tt.in); got != tt.want {
			t.Errorf("shortDetail(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
