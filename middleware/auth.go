package middleware

import (
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

// TokenOf returns the token of a request from the token parameter (query
// or form) or an Authorization: Bearer header. readBody false keeps it
// from parsing the body, for uploads that stream theirs.
func TokenOf(c *gin.Context, readBody bool) string {
	if t := c.Query("token"); t != "" {
		return t
	}
	if h := c.GetHeader("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	if readBody {
		return c.PostForm("token")
	}
	return ""
}

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
		id, err := a.Viewer(TokenOf(c, true))
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
func (a *Auth) Optional() gin.HandlerFunc {
	return func(c *gin.Context) {
		if id, err := a.Viewer(TokenOf(c, true)); err == nil {
			SetViewer(c, id)
		}
		c.Next()
	}
}

// SetViewer records the authenticated user of the request.
func SetViewer(c *gin.Context, id int64) { c.Set(viewerKey, id) }

// ViewerID is the authenticated user of the request, 0 for a guest.
func ViewerID(c *gin.Context) int64 { return c.GetInt64(viewerKey) }
