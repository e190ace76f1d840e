package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/middleware"
	"github.com/tiktok-lite/server/pkg/errcode"
	"github.com/tiktok-lite/server/pkg/response"
	"github.com/tiktok-lite/server/pkg/units"
	"github.com/tiktok-lite/server/service"
)

// Video serves the feed, publishing and publish lists.
type Video struct {
	videos  *service.Videos
	auth    *middleware.Auth
	render  *Render
	log     *zap.Logger
	limits  UploadLimits
	uploads chan struct{} // a slot per authenticated upload that may run at once
	anon    *byteBudget   // spool bytes of uploads whose token comes after the file
	results *prometheus.CounterVec
}

// UploadLimits bound what one publish may take.
type UploadLimits struct {
	MaxBytes   int64         // the video file
	Timeout    time.Duration // reading the whole request, once authenticated
	Concurrent int           // authenticated uploads at once
	TempDir    string        // where uploads are spooled
	// AnonBytes bounds the spooled bytes of all uploads at once that sent
	// the file before their token: until the token is checked they hold no
	// slot and no long deadline, and this much disk at most.
	AnonBytes int64
	// PerUser limits each user's publishes; nil: unlimited.
	PerUser middleware.RateLimiter
}

// NewVideo returns the video controller.
// reg may be nil; it gets tiktok_uploads_total{result}.
func NewVideo(videos *service.Videos, auth *middleware.Auth, render *Render, limits UploadLimits, log *zap.Logger, reg prometheus.Registerer) (*Video, error) {
	if err := os.MkdirAll(limits.TempDir, 0o700); err != nil {
		return nil, err
	}
	results := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tiktok_uploads_total", Help: "Publish requests by result (ok or the error code).",
	}, []string{"result"})
	if reg != nil {
		if err := reg.Register(results); err != nil {
			return nil, err
		}
	}
	return &Video{videos: videos, auth: auth, render: render, log: log, limits: limits,
		uploads: make(chan struct{}, limits.Concurrent), anon: &byteBudget{left: limits.AnonBytes}, results: results}, nil
}

type feedRequest struct {
	LatestTime int64 `form:"latest_time"`
}

type feedResponse struct {
	response.Envelope
	VideoList []service.Video `json:"video_list"`
	NextTime  int64           `json:"next_time"`
	render    *Render
}

// Feed handles GET /douyin/feed/.
func (h *Video) Feed(c *gin.Context) {
	resp := feedResponse{VideoList: []service.Video{}, render: h.render}
	handle(c, h.log, &resp, func(ctx context.Context, viewer int64, req *feedRequest) error {
		page, err := h.videos.Feed(ctx, viewer, req.LatestTime)
		if err == nil {
			resp.VideoList, resp.NextTime = page.Videos, page.NextTime
		}
		return err
	})
}

type listRequest struct {
	UserID int64 `form:"user_id" binding:"required,gt=0"`
}

type videoListResponse struct {
	response.Envelope
	VideoList []service.Video `json:"video_list"`
	render    *Render
}

// PublishList handles GET /douyin/publish/list/.
func (h *Video) PublishList(c *gin.Context) {
	resp := videoListResponse{VideoList: []service.Video{}, render: h.render}
	handle(c, h.log, &resp, func(ctx context.Context, viewer int64, req *listRequest) (err error) {
		resp.VideoList, err = h.videos.PublishList(ctx, viewer, req.UserID)
		return err
	})
}

// Publish handles POST /douyin/publish/action/: a multipart form with the
// file in data, and token and title in the form or the query string.
func (h *Video) Publish(c *gin.Context) {
	resp := response.Envelope{}
	response.Write(c, h.log, &resp, h.publish(c))
	result := "ok"
	if resp.StatusCode != 0 {
		result = strconv.Itoa(int(resp.StatusCode))
	}
	h.results.WithLabelValues(result).Inc()
}

func (h *Video) publish(c *gin.Context) error {
	u := h.newUpload(c)
	defer u.finish()
	// A token in the query string or header is checked before the body is
	// read, so a bad one costs nothing and a good one gets its slot now.
	if tok := middleware.TokenOf(c); tok != "" {
		if err := u.login(tok); err != nil {
			return err
		}
	}
	if err := u.receive(); err != nil {
		return err
	}
	if u.viewer == 0 {
		if err := u.login(u.form.fields["token"]); err != nil {
			return err
		}
	}
	if u.form.path == "" {
		return errcode.InvalidParam.WithMsg("data is required: attach the video file")
	}
	title := u.form.fields["title"]
	if title == "" {
		title = c.Query("title")
	}
	_, err := h.videos.Publish(c.Request.Context(), u.viewer, title, service.Upload{Path: u.form.path, Size: u.form.size})
	return err
}

type uploadForm struct {
	fields map[string]string
	path   string // spooled video file, "" when none was sent
	size   int64
}

// Bounds of the upload form's text fields (token, title and whatever else
// a client sends): a few small fields, never a memory sink.
const (
	maxFieldBytes = 8 << 10  // one field
	maxFormFields = 8        // fields besides the file
	maxFormBytes  = 64 << 10 // all that is not the file: fields, part headers, boundaries
)

// upload is one publish request on its way in.
type upload struct {
	h      *Video
	c      *gin.Context
	form   *uploadForm
	body   *formBudget
	viewer int64 // 0 until the token is checked
	slot   bool  // holds one of h.uploads
	anon   int64 // bytes taken from h.anon
}

func (h *Video) newUpload(c *gin.Context) *upload {
	return &upload{h: h, c: c, form: &uploadForm{fields: map[string]string{}}}
}

// login checks the token and admits the upload: the user's publish limit,
// then a slot, then the upload's long read deadline. Until then the
// request has only the server's short one.
func (u *upload) login(token string) error {
	viewer, err := u.h.auth.Viewer(token)
	if err != nil {
		return err
	}
	if l := u.h.limits.PerUser; l != nil {
		ok, err := l.Allow(u.c.Request.Context(), "user:"+strconv.FormatInt(viewer, 10))
		if err != nil {
			return err
		}
		if !ok {
			return errcode.TooManyRequests.WithMsg("you have published too many videos lately, please try again later")
		}
	}
	select {
	case u.h.uploads <- struct{}{}:
		u.slot = true
	default:
		return errcode.TooManyRequests.WithMsg("too many uploads at once, please try again in a moment")
	}
	u.viewer = viewer
	rc := http.NewResponseController(u.c.Writer)
	if err := rc.SetReadDeadline(time.Now().Add(u.h.limits.Timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// finish gives back what the upload held and removes its spooled file.
func (u *upload) finish() {
	if u.slot {
		<-u.h.uploads
	}
	u.h.anon.give(u.anon)
	if u.form.path != "" {
		if err := os.Remove(u.form.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			u.h.log.Error("remove spooled upload", zap.Error(err))
		}
	}
}

// receive streams the multipart body: text fields into memory (bounded),
// the video straight to a temporary file with the size limit enforced
// while reading, so a video is never held in memory. A token field that
// comes before the file logs the upload in as soon as it is read.
func (u *upload) receive() error {
	c := u.c
	ct, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || ct != "multipart/form-data" {
		return errcode.InvalidParam.WithMsg("send the video as multipart/form-data in the field data")
	}
	u.body = &formBudget{r: c.Request.Body, left: maxFormBytes}
	c.Request.Body = http.MaxBytesReader(c.Writer, readCloser{u.body, c.Request.Body}, u.h.limits.MaxBytes+1<<20)
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return errcode.InvalidParam.WithMsg("the upload form could not be read")
	}
	fields := 0
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return u.readError(err)
		}
		name := part.FormName()
		if name == "data" && u.form.path == "" {
			if err := u.spool(part); err != nil {
				return err
			}
			continue
		}
		if fields++; fields > maxFormFields {
			return u.formTooLarge()
		}
		// Any other part, a second file included, is read as a field: it
		// counts against the form's bounds and is kept only if small.
		val, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
		if err != nil {
			return u.readError(err)
		}
		if len(val) > maxFieldBytes {
			return errcode.InvalidParam.WithMsg(name + " is too long")
		}
		if part.FileName() != "" {
			continue // only data is ours
		}
		u.form.fields[name] = strings.TrimRight(string(val), "\r\n")
		if name == "token" && u.viewer == 0 && u.form.path == "" {
			if err := u.login(u.form.fields[name]); err != nil {
				return err
			}
		}
	}
}

// spool copies the video to a temporary file. Its bytes do not count
// against the form's bounds; those of an upload not yet logged in count
// against the shared budget of such uploads.
func (u *upload) spool(part io.Reader) error {
	dir := u.h.limits.TempDir
	f, err := os.CreateTemp(dir, "upload-*")
	if err != nil {
		return u.diskError(err)
	}
	u.form.path = f.Name()
	var w io.Writer = f
	if u.viewer == 0 {
		w = &budgetWriter{w: f, u: u}
	}
	dst := &writeTracker{w: w}
	u.body.free = true
	n, err := io.Copy(dst, io.LimitReader(part, u.h.limits.MaxBytes+1))
	u.body.free = false
	if cerr := f.Close(); err == nil && cerr != nil {
		err, dst.err = cerr, cerr
	}
	u.form.size = n
	switch {
	case errors.Is(err, errAnonBudget):
		return errcode.TooManyRequests.WithMsg("too many uploads at once, please try again in a moment")
	case err != nil && dst.err != nil:
		return u.diskError(err)
	case err != nil:
		return u.readError(err)
	case n > u.h.limits.MaxBytes:
		return errcode.TooLarge.WithMsg("the video is larger than " + units.Bytes(u.h.limits.MaxBytes))
	}
	return nil
}

// diskError is a failure to write the spool: ours, not the client's.
func (u *upload) diskError(err error) error {
	u.h.log.Error("could not spool an upload", zap.String("dir", u.h.limits.TempDir), zap.Error(err))
	return errcode.Internal.WithMsg("the server could not store the upload, please try again later")
}

// readError is a failure to read the request body.
func (u *upload) readError(err error) error {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return errcode.TooLarge
	case errors.Is(err, errFormBudget):
		return u.formTooLarge()
	}
	return errcode.InvalidParam.WithMsg("the upload was interrupted or malformed, please try again")
}

// formTooLarge refuses the form and closes the connection, so that the
// rest of the body is never read.
func (u *upload) formTooLarge() error {
	u.c.Header("Connection", "close")
	return errcode.TooLarge.WithMsg(fmt.Sprintf("the upload form may hold at most %d small fields besides data", maxFormFields))
}

var (
	errFormBudget = errors.New("upload form too large")
	errAnonBudget = errors.New("no room for uploads that are not logged in")
)

// formBudget counts the body's bytes outside the file against left.
type formBudget struct {
	r    io.Reader
	left int64
	free bool // reading the file
}

func (b *formBudget) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if !b.free {
		if b.left -= int64(n); b.left < 0 {
			return n, errFormBudget
		}
	}
	return n, err
}

type readCloser struct {
	io.Reader
	io.Closer
}

// writeTracker remembers a write error, to tell a full disk from a
// client that hung up.
type writeTracker struct {
	w   io.Writer
	err error
}

func (t *writeTracker) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil && !errors.Is(err, errAnonBudget) {
		t.err = err
	}
	return n, err
}

// budgetWriter takes each write's bytes from the shared budget first.
type budgetWriter struct {
	w io.Writer
	u *upload
}

func (b *budgetWriter) Write(p []byte) (int, error) {
	if !b.u.h.anon.take(int64(len(p))) {
		return 0, errAnonBudget
	}
	b.u.anon += int64(len(p))
	return b.w.Write(p)
}

// byteBudget is a count of bytes shared by concurrent uploads.
type byteBudget struct {
	mu   sync.Mutex
	left int64
}

func (b *byteBudget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.left {
		return false
	}
	b.left -= n
	return true
}

func (b *byteBudget) give(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.left += n
	b.mu.Unlock()
}
