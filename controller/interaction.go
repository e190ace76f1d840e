package controller

import (
	"context"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/pkg/errcode"
	"github.com/tiktok-lite/server/pkg/response"
	"github.com/tiktok-lite/server/service"
)

// Interaction serves likes and comments.
type Interaction struct {
	svc    *service.Interactions
	render *Render
	log    *zap.Logger
}

// NewInteraction returns the like and comment controller.
func NewInteraction(svc *service.Interactions, render *Render, log *zap.Logger) *Interaction {
	return &Interaction{svc: svc, render: render, log: log}
}

type favoriteRequest struct {
	VideoID    int64 `form:"video_id" binding:"required,gt=0"`
	ActionType int32 `form:"action_type" binding:"required,oneof=1 2"`
}

// FavoriteAction handles POST /douyin/favorite/action/.
func (h *Interaction) FavoriteAction(c *gin.Context) {
	handle(c, h.log, &response.Envelope{}, func(ctx context.Context, viewer int64, req *favoriteRequest) error {
		if req.ActionType == 1 {
			return h.svc.Like(ctx, viewer, req.VideoID)
		}
		return h.svc.Unlike(ctx, viewer, req.VideoID)
	})
}

// FavoriteList handles GET /douyin/favorite/list/.
func (h *Interaction) FavoriteList(c *gin.Context) {
	resp := videoListResponse{VideoList: []service.Video{}, render: h.render}
	handle(c, h.log, &resp, func(ctx context.Context, viewer int64, req *listRequest) (err error) {
		resp.VideoList, err = h.svc.FavoriteList(ctx, viewer, req.UserID)
		return err
	})
}

type commentRequest struct {
	VideoID     int64  `form:"video_id" binding:"required,gt=0"`
	ActionType  int32  `form:"action_type" binding:"required,oneof=1 2"`
	CommentText string `form:"comment_text"`
	CommentID   int64  `form:"comment_id" binding:"omitempty,gt=0"`
}

type commentResponse struct {
	response.Envelope
	Comment *service.Comment `json:"comment"`
}

// CommentAction handles POST /douyin/comment/action/.
func (h *Interaction) CommentAction(c *gin.Context) {
	var resp commentResponse
	handle(c, h.log, &resp, func(ctx context.Context, viewer int64, req *commentRequest) (err error) {
		switch {
		case req.ActionType == 1:
			resp.Comment, err = h.svc.AddComment(ctx, viewer, req.VideoID, req.CommentText)
			return err
		case req.CommentID == 0:
			return errcode.InvalidParam.WithMsg("comment_id is required to delete a comment")
		default:
			return h.svc.DeleteComment(ctx, viewer, req.VideoID, req.CommentID)
		}
	})
}

type commentListRequest struct {
	VideoID int64 `form:"video_id" binding:"required,gt=0"`
}

type commentListResponse struct {
	response.Envelope
	CommentList []service.Comment `json:"comment_list"`
	render      *Render
}

// CommentList handles GET /douyin/comment/list/.
func (h *Interaction) CommentList(c *gin.Context) {
	resp := commentListResponse{CommentList: []service.Comment{}, render: h.render}
	handle(c, h.log, &resp, func(ctx context.Context, viewer int64, req *commentListRequest) (err error) {
		resp.CommentList, err = h.svc.CommentList(ctx, viewer, req.VideoID)
		return err
	})
}
