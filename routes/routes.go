// Package routes builds the gin engine: the whole API surface and the
// middleware order, on one screen.
package routes

import (
	"fmt"
	"net/http"

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
	AuthLimit      *middleware.Limiter     // nil: register/login unlimited
	WriteLimit     *middleware.Limiter     // nil: writes unlimited
	MaxBodyBytes   int64

	User        *controller.User
	Video       *controller.Video
	Interaction *controller.Interaction
	Social      *controller.Social
	Health      *controller.Health

	Media   http.Handler // stored media under /media/, nil when served elsewhere (OSS)
	Static  http.Handler // default images under /static/
	Web     http.Handler // the web client at /, nil for none
	Scrapes http.Handler // Prometheus /metrics, nil for none
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

	r.Use(middleware.RequestID(), middleware.AccessLog(d.Log), middleware.Recovery(d.Log))
	if d.Metrics != nil {
		r.Use(d.Metrics.Handler())
	}
	r.NoRoute(d.Health.NotFound)

	r.GET("/healthz", d.Health.Alive)
	r.GET("/readyz", d.Health.Ready)
	if d.Scrapes != nil {
		r.GET("/metrics", gin.WrapH(d.Scrapes))
	}
	if d.Media != nil {
		r.GET("/media/*key", gin.WrapH(http.StripPrefix("/media/", d.Media)))
		r.HEAD("/media/*key", gin.WrapH(http.StripPrefix("/media/", d.Media)))
	}
	r.GET("/static/*file", gin.WrapH(http.StripPrefix("/static/", d.Static)))
	if d.Web != nil {
		r.GET("/", gin.WrapH(d.Web))
		r.GET("/web/*file", gin.WrapH(d.Web))
	}

	body := middleware.MaxBody(d.MaxBodyBytes)
	guest, user := d.Auth.Optional(), d.Auth.Required()
	authLimit, writeLimit := limit(d.AuthLimit, middleware.PerIP, d.Log), limit(d.WriteLimit, middleware.PerUser, d.Log)

	api := r.Group("/douyin")
	both(api, http.MethodGet, "/feed", body, guest, d.Video.Feed)
	both(api, http.MethodPost, "/user/register", body, authLimit, d.User.Register)
	both(api, http.MethodPost, "/user/login", body, authLimit, d.User.Login)
	both(api, http.MethodGet, "/user", body, guest, d.User.Info)
	// Publish streams its own body and checks its own token (it may sit in
	// the multipart form, after the file).
	both(api, http.MethodPost, "/publish/action", d.Video.Publish)
	both(api, http.MethodGet, "/publish/list", body, guest, d.Video.PublishList)
	both(api, http.MethodPost, "/favorite/action", body, user, writeLimit, d.Interaction.FavoriteAction)
	both(api, http.MethodGet, "/favorite/list", body, guest, d.Interaction.FavoriteList)
	both(api, http.MethodPost, "/comment/action", body, user, writeLimit, d.Interaction.CommentAction)
	both(api, http.MethodGet, "/comment/list", body, guest, d.Interaction.CommentList)
	both(api, http.MethodPost, "/relation/action", body, user, writeLimit, d.Social.RelationAction)
	both(api, http.MethodGet, "/relation/follow/list", body, guest, d.Social.FollowList)
	both(api, http.MethodGet, "/relation/follower/list", body, guest, d.Social.FollowerList)
	both(api, http.MethodGet, "/relation/friend/list", body, user, d.Social.FriendList)
	both(api, http.MethodPost, "/message/action", body, user, writeLimit, d.Social.MessageAction)
	both(api, http.MethodGet, "/message/chat", body, user, d.Social.Chat)
	return r, nil
}

// both registers path with and without the trailing slash.
func both(g *gin.RouterGroup, method, path string, handlers ...gin.HandlerFunc) {
	g.Handle(method, path+"/", handlers...)
	g.Handle(method, path, handlers...)
}

func limit(l *middleware.Limiter, by func(*middleware.Limiter, *zap.Logger) gin.HandlerFunc, log *zap.Logger) gin.HandlerFunc {
	if l == nil {
		return func(c *gin.Context) { c.Next() }
	}
	return by(l, log)
}
