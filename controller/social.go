package controller

import (
	"context"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/pkg/response"
	"github.com/tiktok-lite/server/service"
)

// Social serves follows, friends and chat.
type Social struct {
	svc    *service.Social
	render *Render
	log    *zap.Logger
}

// NewSocial returns the relation and message controller.
func NewSocial(svc *service.Social, render *Render, log *zap.Logger) *Social {
	return &Social{svc: svc, render: render, log: log}
}

type relationRequest struct {
	ToUserID   int64 `form:"to_user_id" binding:"required,gt=0"`
	ActionType int32 `form:"action_type" binding:"required,oneof=1 2"`
}

// RelationAction handles POST /douyin/relation/action/.
func (h *Social) RelationAction(c *gin.Context) {
	handle(c, h.log, &response.Envelope{}, func(ctx context.Context, viewer int64, req *relationRequest) error {
		if req.ActionType == 1 {
			return h.svc.Follow(ctx, viewer, req.ToUserID)
		}
		return h.svc.Unfollow(ctx, viewer, req.ToUserID)
	})
}

type userListResponse struct {
	response.Envelope
	UserList []service.User `json:"user_list"`
	render   *Render
}

// FollowList handles GET /douyin/relation/follow/list/.
func (h *Social) FollowList(c *gin.Context) { h.userList(c, h.svc.FollowList) }

// FollowerList handles GET /douyin/relation/follower/list/.
func (h *Social) FollowerList(c *gin.Context) { h.userList(c, h.svc.FollowerList) }

func (h *Social) userList(c *gin.Context, list func(ctx context.Context, viewer, userID int64) ([]service.User, error)) {
	resp := userListResponse{UserList: []service.User{}, render: h.render}
	handle(c, h.log, &resp, func(ctx context.Context, viewer int64, req *listRequest) (err error) {
		resp.UserList, err = list(ctx, viewer, req.UserID)
		return err
	})
}

type friendListResponse struct {
	response.Envelope
	UserList []service.FriendUser `json:"user_list"`
}

// FriendList handles GET /douyin/relation/friend/list/.
func (h *Social) FriendList(c *gin.Context) {
	resp := friendListResponse{UserList: []service.FriendUser{}}
	handle(c, h.log, &resp, func(ctx context.Context, viewer int64, req *listRequest) (err error) {
		resp.UserList, err = h.svc.FriendList(ctx, viewer, req.UserID)
		return err
	})
}

type messageRequest struct {
	ToUserID   int64  `form:"to_user_id" binding:"required,gt=0"`
	ActionType int32  `form:"action_type" binding:"required,oneof=1"`
	Content    string `form:"content"`
}

// MessageAction handles POST /douyin/message/action/.
func (h *Social) MessageAction(c *gin.Context) {
	handle(c, h.log, &response.Envelope{}, func(ctx context.Context, viewer int64, req *messageRequest) error {
		_, err := h.svc.SendMessage(ctx, viewer, req.ToUserID, req.Content)
		return err
	})
}

type chatRequest struct {
	ToUserID   int64 `form:"to_user_id" binding:"required,gt=0"`
	PreMsgTime int64 `form:"pre_msg_time" binding:"omitempty,gte=0"`
}

type chatResponse struct {
	response.Envelope
	MessageList []service.Message `json:"message_list"`
}

// Chat handles GET /douyin/message/chat/.
func (h *Social) Chat(c *gin.Context) {
	resp := chatResponse{MessageList: []service.Message{}}
	handle(c, h.log, &resp, func(ctx context.Context, viewer int64, req *chatRequest) (err error) {
		resp.MessageList, err = h.svc.Chat(ctx, viewer, req.ToUserID, req.PreMsgTime)
		return err
	})
}
