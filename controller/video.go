package controller

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/middleware"
	"github.com/tiktok-lite/server/pkg/errcode"
	"github.com/tiktok-lite/server/pkg/response"
	"github.com/tiktok-lite/server/service"
)

// Video serves the feed, publishing and publish lists.
type Video struct {
	videos  *service.Videos
	auth    *middleware.Auth
	render  *Render
	log     *zap.Logger
	limits  UploadLimits
	uploads chan struct{} // a slot per upload that may run at once
	results *prometheus.CounterVec
}

// UploadLimits bound what one publish may take.
type UploadLimits struct {
	MaxBytes   int64         // the video file
	Timeout    time.Duration // reading the whole request
	Concurrent int           // uploads at once
	TempDir    string        // where uploads are spooled
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
	return &Video{videos: videos, auth: auth, render: render, log: log, limits: limits, uploads: make(chan struct{}, limits.Concurrent), results: results}, nil
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
	// A token in the query string or header is checked before the upload is
	// read, so a bad one costs nothing.
	if tok := middleware.TokenOf(c, false); tok != "" {
		if _, err := h.auth.Viewer(tok); err != nil {
			return err
		}
	}
	select {
	case h.uploads <- struct{}{}:
		defer func() { <-h.uploads }()
	default:
		return errcode.TooManyRequests.WithMsg("too many uploads at once, please try again in a moment")
	}
	// Uploads get the time they need; every other route keeps the server's
	// shorter read deadline.
	rc := http.NewResponseController(c.Writer)
	if err := rc.SetReadDeadline(time.Now().Add(h.limits.Timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}

	form, err := h.receive(c)
	if form != nil && form.path != "" {
		defer func() {
			if err := os.Remove(form.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				h.log.Error("remove spooled upload", zap.Error(err))
			}
		}()
	}
	if err != nil {
		return err
	}
	token := form.fields["token"]
	if token == "" {
		token = middleware.TokenOf(c, false)
	}
	viewer, err := h.auth.Viewer(token)
	if err != nil {
		return err
	}
	if form.path == "" {
		return errcode.InvalidParam.WithMsg("data is required: attach the video file")
	}
	title := form.fields["title"]
	if title == "" {
		title = c.Query("title")
	}
	_, err = h.videos.Publish(c.Request.Context(), viewer, title, service.Upload{Path: form.path, Size: form.size})
	return err
}

type uploadForm struct {
	fields map[string]string
	path   string // spooled video file, "" when none was sent
	size   int64
}

// maxFieldBytes bounds each text field of the upload form.
const maxFieldBytes = 8 << 10

// receive streams the multipart body: text fields into memory (bounded),
// the video straight to a temporary file with the size limit enforced
// while reading, so a video is never held in memory.
func (h *Video) receive(c *gin.Context) (*uploadForm, error) {
	ct, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || ct != "multipart/form-data" {
		return nil, errcode.InvalidParam.WithMsg("send the video as multipart/form-data in the field data")
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, h.limits.MaxBytes+1<<20)
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return nil, errcode.InvalidParam.WithMsg("the upload form could not be read")
	}
	form := &uploadForm{fields: map[string]string{}}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return form, nil
		}
		if err != nil {
			return form, uploadError(err)
		}
		name := part.FormName()
		if name == "data" && form.path == "" {
			if err := h.spool(part, form); err != nil {
				return form, err
			}
			continue
		}
		if part.FileName() != "" {
			// Another file: drain it; only data is ours.
			if _, err := io.Copy(io.Discard, part); err != nil {
				return form, uploadError(err)
			}
			continue
		}
		val, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
		if err != nil {
			return form, uploadError(err)
		}
		if len(val) > maxFieldBytes {
			return form, errcode.InvalidParam.WithMsg(name + " is too long")
		}
		form.fields[name] = strings.TrimRight(string(val), "\r\n")
	}
}

func (h *Video) spool(part io.Reader, form *uploadForm) error {
	f, err := os.CreateTemp(h.limits.TempDir, "upload-*")
	if err != nil {
		return err
	}
	form.path = f.Name()
	n, err := io.Copy(f, io.LimitReader(part, h.limits.MaxBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	form.size = n
	if err != nil {
		return uploadError(err)
	}
	if n > h.limits.MaxBytes {
		return errcode.TooLarge.WithMsg("the video is larger than " + humanBytes(h.limits.MaxBytes))
	}
	return nil
}

func uploadError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errcode.TooLarge
	}
	return errcode.InvalidParam.WithMsg("the upload was interrupted or malformed, please try again")
}

func humanBytes(n int64) string {
	const mib = 1 << 20
	if n >= mib && n%mib == 0 {
		return itoa(n/mib) + " MiB"
	}
	return itoa(n) + " bytes"
}
