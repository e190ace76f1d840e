package controller

import (
	"context"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/pkg/errcode"
	"github.com/tiktok-lite/server/pkg/response"
	"github.com/tiktok-lite/server/service"
)

// User serves register, login and user info.
type User struct {
	users  *service.Users
	render *Render
	log    *zap.Logger
}

// NewUser returns the account controller.
func NewUser(users *service.Users, render *Render, log *zap.Logger) *User {
	return &User{users: users, render: render, log: log}
}

type credentials struct {
	Username string `form:"username" binding:"required"`
	Password string `form:"password" binding:"required"`
}

// sessionResponse always carries user_id and token, 0 and "" on failure:
// the official tests read token from a failed register.
type sessionResponse struct {
	response.Envelope
	UserID int64  `json:"user_id"`
	Token  string `json:"token"`
}

// SessionAnswer is register's and login's answer object, for a refusal
// before the handler runs (the rate limit).
func SessionAnswer() response.Body { return &sessionResponse{} }

// Register handles POST /douyin/user/register/.
func (h *User) Register(c *gin.Context) { h.session(c, h.users.Register) }

// Login handles POST /douyin/user/login/.
func (h *User) Login(c *gin.Context) { h.session(c, h.users.Login) }

func (h *User) session(c *gin.Context, act func(ctx context.Context, name, password string) (*service.Session, error)) {
	var resp sessionResponse
	handle(c, h.log, &resp, func(ctx context.Context, _ int64, req *credentials) error {
		s, err := act(ctx, req.Username, req.Password)
		if err == nil {
			resp.UserID, resp.Token = s.UserID, s.Token
		}
		return err
	})
}

// userRequest's UserID is a pointer so that a present 0 (or -0, 00) is
// told apart from a missing id: only a missing one means "me".
type userRequest struct {
	UserID *int64 `form:"user_id" binding:"omitempty,gt=0"`
}

type userResponse struct {
	response.Envelope
	User   *service.User `json:"user"`
	render *Render
}

// Info handles GET /douyin/user/; without user_id it shows the viewer.
func (h *User) Info(c *gin.Context) {
	resp := userResponse{render: h.render}
	handle(c, h.log, &resp, func(ctx context.Context, viewer int64, req *userRequest) (err error) {
		target := viewer
		if req.UserID != nil {
			target = *req.UserID
		}
		if target == 0 {
			return errcode.InvalidParam.WithMsg("user_id is required")
		}
		resp.User, err = h.users.Profile(ctx, viewer, target)
		return err
	})
}
