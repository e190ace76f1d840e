package middleware

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/pkg/errcode"
	"github.com/tiktok-lite/server/pkg/response"
)

const viewerKey = "tiktok.viewer"

// TokenVerifier checks a session token and returns its user id.
type TokenVerifier interface {
	Verify(token string) (int64, error)
}

// Auth finds and checks the session token of a request.
type Auth struct {
	tokens TokenVerifier
	log    *zap.Logger
}

// NewAuth returns the authentication middleware factory.
func NewAuth(tokens TokenVerifier, log *zap.Logger) *Auth {
	return &Auth{tokens: tokens, log: log}
}

// TokenOf returns the token of a request from the query string or an
// Authorization: Bearer header, without reading the body (uploads stream
// theirs).
func TokenOf(c *gin.Context) string {
	if t := c.Query("token"); t != "" {
		return t
	}
	if h := c.GetHeader("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// tokenOfBody is TokenOf, then the token form field: a body past the size limit
// is TooLarge, whatever token it may hold, rather than "please log in".
func tokenOfBody(c *gin.Context) (string, error) {
	if t := TokenOf(c); t != "" {
		return t, nil
	}
	if err := parseBody(c.Request); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", errcode.TooLarge.WithMsg("the request is too large")
		}
	}
	return c.PostForm("token"), nil
}

// parseBody parses the urlencoded or multipart form once; gin's PostForm
// reads the same parsed form afterwards. ParseForm goes first because
// ParseMultipartForm would hide its error behind ErrNotMultipart.
func parseBody(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	if err := r.ParseMultipartForm(multipartMemory); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return err
	}
	return nil
}

// multipartMemory is what a parsed multipart form of a bounded route may
// hold in memory; the body limit is smaller anyway.
const multipartMemory = 32 << 20

// Viewer checks token: 0 and NotLoggedIn when empty, BadToken when invalid.
func (a *Auth) Viewer(token string) (int64, error) {
	if token == "" {
		return 0, errcode.NotLoggedIn
	}
	id, err := a.tokens.Verify(token)
	if err != nil {
		return 0, errcode.BadToken
	}
	return id, nil
}

// Required stops requests without a valid token.
func (a *Auth) Required() gin.HandlerFunc {
	return func(c *gin.Context) {
		tok, err := tokenOfBody(c)
		var id int64
		if err == nil {
			id, err = a.Viewer(tok)
		}
		if err != nil {
			response.Fail(c, a.log, err)
			return
		}
		SetViewer(c, id)
		c.Next()
	}
}

// Optional serves a missing, malformed or expired token as a guest: the
// APK browses before login and would show a bare network error otherwise.
// A body too large to read is still refused.
func (a *Auth) Optional() gin.HandlerFunc {
	return func(c *gin.Context) {
		tok, err := tokenOfBody(c)
		if err != nil {
			response.Fail(c, a.log, err)
			return
		}
		if id, err := a.Viewer(tok); err == nil {
			SetViewer(c, id)
		}
		c.Next()
	}
}

// SetViewer records the authenticated user of the request.
func SetViewer(c *gin.Context, id int64) { c.Set(viewerKey, id) }

// ViewerID is the authenticated user of the request, 0 for a guest.
func ViewerID(c *gin.Context) int64 { return c.GetInt64(viewerKey) }
