package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

var (
	// ErrNoFFmpeg is returned by Extract when no ffmpeg binary was found.
	ErrNoFFmpeg = errors.New("ffmpeg is not available")
	// ErrNoVideo is returned by Extract when ffmpeg ran to its end and
	// found no video stream it could decode a frame of: the file only
	// looks like a video.
	ErrNoVideo = errors.New("no decodable video stream")
)

const (
	// DefaultCoverTimeout bounds one Extract when NewCovers gets no timeout.
	DefaultCoverTimeout = 15 * time.Second
	// MaxCoverWidth is the widest cover Extract produces; narrower videos
	// keep their size.
	MaxCoverWidth = 720
	// coverAt is where the frame is taken: past a black or faded first frame.
	coverAt = "0.5"
	// maxCoverBytes caps ffmpeg's output; a 720-wide JPEG is far smaller.
	maxCoverBytes = 8 << 20
	// maxStderr is how much of ffmpeg's complaint is kept for the error.
	maxStderr    = 4 << 10
	errDetailLen = 200
	// waitDelay bounds the wait for ffmpeg's pipes after it is killed.
	waitDelay = 2 * time.Second
	// demuxers is the only input formats ffmpeg may open: the containers
	// Sniff accepts. Playlists (hls, concat) and image sequences could make
	// it read other files or hosts.
	demuxers = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg"
)

// Covers takes cover frames from videos with an ffmpeg binary.
type Covers struct {
	ffmpeg  string
	timeout time.Duration
}

// NewCovers finds ffmpeg at ffmpegPath, or on PATH when ffmpegPath is empty.
// When it is not found, Available reports false and Extract fails with
// ErrNoFFmpeg, so the caller can fall back to DefaultCover. A timeout of
// zero or less means DefaultCoverTimeout.
func NewCovers(ffmpegPath string, timeout time.Duration) *Covers {
	if timeout <= 0 {
		timeout = DefaultCoverTimeout
	}
	name := ffmpegPath
	if name == "" {
		name = "ffmpeg"
	}
	found, err := exec.LookPath(name)
	if err != nil {
		found = ""
	}
	return &Covers{ffmpeg: found, timeout: timeout}
}

// Available reports whether an ffmpeg binary was found.
func (c *Covers) Available() bool { return c.ffmpeg != "" }

// Extract returns a JPEG of the frame at 0.5 s of the video at videoPath
// (the first frame for shorter clips), at most MaxCoverWidth pixels wide.
// It fails for a file that is not a video with a video stream, and when the
// timeout or ctx ends first.
func (c *Covers) Extract(ctx context.Context, videoPath string) ([]byte, error) {
	if !c.Available() {
		return nil, ErrNoFFmpeg
	}
	if videoPath == "" {
		return nil, errors.New("extract cover: empty video path")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	out, err := c.frame(ctx, videoPath, coverAt)
	if err == nil && len(out) == 0 {
		// Seeking past the end of a very short clip yields no frame.
		out, err = c.frame(ctx, videoPath, "")
	}
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("extract cover: ffmpeg produced no frame: %w", ErrNoVideo)
	}
	if len(out) < 3 || out[0] != 0xFF || out[1] != 0xD8 || out[2] != 0xFF {
		return nil, errors.New("extract cover: ffmpeg output is not a jpeg")
	}
	return out, nil
}

// frame runs ffmpeg once, seeking to at when it is not empty.
func (c *Covers) frame(ctx context.Context, videoPath, at string) ([]byte, error) {
	args := []string{
		"-hide_banner", "-loglevel", "error", "-nostdin",
		"-protocol_whitelist", "file", "-format_whitelist", demuxers,
	}
	if at != "" {
		args = append(args, "-ss", at)
	}
	args = append(args,
		// The file: prefix keeps a name like "-x" or "http:..." a local path.
		"-i", "file:"+videoPath,
		"-map", "0:v:0", "-an", "-sn", "-dn",
		"-frames:v", "1",
		"-vf", fmt.Sprintf("scale='min(%d,iw)':-2", MaxCoverWidth),
		"-f", "image2pipe", "-c:v", "mjpeg", "-q:v", "4",
		"pipe:1",
	)
	cmd := exec.CommandContext(ctx, c.ffmpeg, args...)
	stdout := &cappedBuffer{max: maxCoverBytes, failOnOverflow: true}
	stderr := &cappedBuffer{max: maxStderr}
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.WaitDelay = waitDelay
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("extract cover: ffmpeg stopped: %w", ctxErr)
		}
		var exit *exec.ExitError
		if errors.As(err, &exit) && !errors.Is(err, errOutputTooLarge) {
			err = fmt.Errorf("%w: %w", ErrNoVideo, err) // ffmpeg itself refused the file
		}
		if detail := shortDetail(stderr.String()); detail != "" {
			return nil, fmt.Errorf("extract cover: ffmpeg: %w: %s", err, detail)
		}
		return nil, fmt.Errorf("extract cover: ffmpeg: %w", err)
	}
	return stdout.Bytes(), nil
}

// shortDetail keeps the last non-empty line of ffmpeg's stderr, where the
// reason usually is, cut to a length fit for a log line.
func shortDetail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if len(last) > errDetailLen {
		last = last[:errDetailLen] + "..."
	}
	return last
}

var errOutputTooLarge = errors.New("output too large")

// cappedBuffer keeps at most max bytes. Past that it either fails the write
// (stdout: the frame is unusable) or drops the rest (stderr: the start is
// enough to explain a failure).
type cappedBuffer struct {
	buf            bytes.Buffer
	max            int
	failOnOverflow bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	room := b.max - b.buf.Len()
	if len(p) <= room {
		return b.buf.Write(p)
	}
	if b.failOnOverflow {
		return 0, errOutputTooLarge
	}
	if room > 0 {
		if _, err := b.buf.Write(p[:room]); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (b *cappedBuffer) Bytes() []byte  { return b.buf.Bytes() }
func (b *cappedBuffer) String() string { return b.buf.String() }
