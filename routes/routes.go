// Package routes builds the gin engine: the whole API surface and the
// middleware order, on one screen.
package routes

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/controller"
	"github.com/tiktok-lite/server/middleware"
)

// Deps is everything the routes point at.
type Deps struct {
	Log            *zap.Logger
	TrustedProxies []string // whose X-Forwarded-For ClientIP believes
	Auth           *middleware.Auth
	Metrics        *middleware.HTTPMetrics // nil: no request metrics
	Tracing        gin.HandlerFunc         // starts each request's span; nil: off
	AuthLimit      middleware.RateLimiter  // nil: register/login unlimited
	WriteLimit     middleware.RateLimiter  // nil: writes unlimited
	MaxBodyBytes   int64
	RequestTimeout time.Duration // deadline of every route but publish
	UploadTimeout  time.Duration // deadline of publish

	User        *controller.User
	Video       *controller.Video
	Interaction *controller.Interaction
	Social      *controller.Social
	Health      *controller.Health

	Media  http.Handler // stored media under /media/, nil when served elsewhere (OSS)
	Static http.Handler // default images under /static/
	Web    http.Handler // the web client at /, nil for none
	Spec   http.Handler // api/openapi.yaml as JSON at /openapi.json
}

// New returns the engine.
func New(d Deps) (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Rate limits key on the client address; only a proxy of ours may say
	// what it is, or anyone could pick the address they are limited by.
	if err := r.SetTrustedProxies(d.TrustedProxies); err != nil {
		return nil, fmt.Errorf("server.trusted_proxies: %w", err)
	}
	// Every route answers with and without its trailing slash, with no
	// redirect: the APK does not follow a 301 on POST.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = false

	r.Use(middleware.RequestID())
	if d.Tracing != nil {
		r.Use(d.Tracing)
	}
	r.Use(middleware.AccessLog(d.Log), middleware.Recovery(d.Log))
	if d.Metrics != nil {
		r.Use(d.Metrics.Handler())
	}
	r.NoRoute(d.Health.NotFound)

	r.GET("/healthz", d.Health.Alive)
	r.GET("/readyz", d.Health.Ready)
	r.GET("/openapi.json", gin.WrapH(d.Spec))
	if d.Media != nil {
		r.GET("/media/*key", gin.WrapH(http.StripPrefix("/media/", d.Media)))
		r.HEAD("/media/*key", gin.WrapH(http.StripPrefix("/media/", d.Media)))
	}
	r.GET("/static/*file", gin.WrapH(http.StripPrefix("/static/", d.Static)))
	if d.Web != nil {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			r.Handle(method, "/", gin.WrapH(d.Web))
			r.Handle(method, "/web/*file", gin.WrapH(d.Web))
		}
	}

	guest, user := d.Auth.Optional(), d.Auth.Required()
	perIP := func(l middleware.RateLimiter, log *zap.Logger) gin.HandlerFunc {
		return middleware.PerIP(l, log, controller.SessionAnswer)
	}
	authLimit, writeLimit := limit(d.AuthLimit, perIP, d.Log), limit(d.WriteLimit, middleware.PerUser, d.Log)
	// Every route but publish gets a bounded body and a short deadline;
	// publish streams its own body, checks its own token (it may sit in the
	// multipart form, after the file) and gets the upload's time.
	maxBody, deadline := middleware.MaxBody(d.MaxBodyBytes), middleware.Deadline(d.RequestTimeout)
	bounded := func(h ...gin.HandlerFunc) []gin.HandlerFunc {
		return append([]gin.HandlerFunc{maxBody, deadline}, h...)
	}

	api := r.Group("/douyin")
	both(api, http.MethodGet, "/feed", bounded(guest, d.Video.Feed)...)
	both(api, http.MethodPost, "/user/register", bounded(authLimit, d.User.Register)...)
	both(api, http.MethodPost, "/user/login", bounded(authLimit, d.User.Login)...)
	both(api, http.MethodGet, "/user", bounded(guest, d.User.Info)...)
	both(api, http.MethodPost, "/publish/action", middleware.Deadline(d.UploadTimeout), d.Video.Publish)
	both(api, http.MethodGet, "/publish/list", bounded(guest, d.Video.PublishList)...)
	both(api, http.MethodPost, "/favorite/action", bounded(user, writeLimit, d.Interaction.FavoriteAction)...)
	both(api, http.MethodGet, "/favorite/list", bounded(guest, d.Interaction.FavoriteList)...)
	both(api, http.MethodPost, "/comment/action", bounded(user, writeLimit, d.Interaction.CommentAction)...)
	both(api, http.MethodGet, "/comment/list", bounded(guest, d.Interaction.CommentList)...)
	both(api, http.MethodPost, "/relation/action", bounded(user, writeLimit, d.Social.RelationAction)...)
	both(api, http.MethodGet, "/relation/follow/list", bounded(guest, d.Social.FollowList)...)
	both(api, http.MethodGet, "/relation/follower/list", bounded(guest, d.Social.FollowerList)...)
	both(api, http.MethodGet, "/relation/friend/list", bounded(user, d.Social.FriendList)...)
	both(api, http.MethodPost, "/message/action", bounded(user, writeLimit, d.Social.MessageAction)...)
	both(api, http.MethodGet, "/message/chat", bounded(user, d.Social.Chat)...)
	return r, nil
}

// both registers path with and without the trailing slash.
func both(g *gin.RouterGroup, method, path string, handlers ...gin.HandlerFunc) {
	g.Handle(method, path+"/", handlers...)
	g.Handle(method, path, handlers...)
}

func limit(l middleware.RateLimiter, by func(middleware.RateLimiter, *zap.Logger) gin.HandlerFunc, log *zap.Logger) gin.HandlerFunc {
	if l == nil {
		return func(c *gin.Context) { c.Next() }
	}
	return by(l, log)
}
