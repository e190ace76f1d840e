// Package response writes the envelope every route answers with: HTTP 200,
// status_code and, on errors, a status_msg written for the person.
package response

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/goccy/go-json"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/pkg/errcode"
)

// Envelope is embedded in every response body.
type Envelope struct {
	StatusCode int32  `json:"status_code"`
	StatusMsg  string `json:"status_msg,omitempty"`
}

// Env gives the helper access to the embedded envelope.
func (e *Envelope) Env() *Envelope { return e }

// Body is any response struct embedding Envelope.
type Body interface{ Env() *Envelope }

// Appender is a Body that writes its own JSON, the same bytes go-json
// would write for it, only faster.
type Appender interface {
	Body
	AppendJSON(dst []byte) ([]byte, error)
}

// AppendOpen starts an answer object with the envelope's fields, for an
// Appender to continue with its own and close.
func (e *Envelope) AppendOpen(dst []byte) []byte {
	dst = append(dst, `{"status_code":`...)
	dst = strconv.AppendInt(dst, int64(e.StatusCode), 10)
	if e.StatusMsg != "" {
		msg, err := json.Marshal(e.StatusMsg)
		if err != nil {
			// A string always encodes; this cannot be reached.
			panic(err)
		}
		dst = append(dst, `,"status_msg":`...)
		dst = append(dst, msg...)
	}
	return dst
}

// CodeKey is where the written status_code is kept for the access log.
const CodeKey = "tiktok.status_code"

// RequestIDKey is where the request id is kept.
const RequestIDKey = "tiktok.request_id"

// Write sends body, first filling its envelope from err. A coded error
// shows its own code and message; anything else is logged once, whole,
// with the request id, and the client sees only the internal-error code.
func Write(c *gin.Context, log *zap.Logger, body Body, err error) {
	env := body.Env()
	if err != nil {
		var coded *errcode.Error
		switch {
		case errors.As(err, &coded):
		case errors.Is(err, context.Canceled):
			// The client left; nobody reads this answer and nothing failed.
			log.Debug("request cancelled by the client",
				zap.String("request_id", c.GetString(RequestIDKey)),
				zap.String("route", c.FullPath()))
			coded = errcode.Internal
		case errors.Is(err, context.DeadlineExceeded):
			// A dependency too slow to answer within the request's deadline.
			log.Warn("request timed out",
				zap.String("request_id", c.GetString(RequestIDKey)),
				zap.String("route", c.FullPath()),
				zap.Error(err))
			coded = errcode.Unavailable
		default:
			log.Error("request failed",
				zap.String("request_id", c.GetString(RequestIDKey)),
				zap.String("route", c.FullPath()),
				zap.Error(err))
			coded = errcode.Internal
		}
		env.StatusCode, env.StatusMsg = coded.Code, coded.Msg
	}
	c.Set(CodeKey, env.StatusCode)
	// A feed page is about 17 KB of JSON, written into a pooled buffer
	// rather than a new one per answer.
	buf := buffers.Get().(*[]byte)
	defer putBuffer(buf)
	out, err := encode((*buf)[:0], body)
	*buf = out
	if err != nil {
		log.Error("encode response", zap.Error(err))
		c.Set(CodeKey, errcode.Internal.Code)
		c.JSON(200, Envelope{StatusCode: errcode.Internal.Code, StatusMsg: errcode.Internal.Msg})
		return
	}
	c.Data(200, "application/json; charset=utf-8", out)
}

// encode appends body's JSON to dst: the hot list answers write their own
// (Appender); the rest go through go-json, which writes the same bytes as
// encoding/json for these plain structs, several times faster.
func encode(dst []byte, body Body) ([]byte, error) {
	if a, ok := body.(Appender); ok {
		return a.AppendJSON(dst)
	}
	out, err := json.Marshal(body)
	return append(dst, out...), err
}

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// putBuffer returns buf to the pool unless one huge answer grew it.
func putBuffer(buf *[]byte) {
	if cap(*buf) <= 1<<20 {
		buffers.Put(buf)
	}
}

// Fail answers with err alone, for middleware that stops a request.
func Fail(c *gin.Context, log *zap.Logger, err error) {
	Write(c, log, &Envelope{}, err)
	c.Abort()
}
