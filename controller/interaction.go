package controller

import (
	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/middleware"
	"github.com/tiktok-lite/server/pkg/errcode"
	"github.com/tiktok-lite/server/pkg/response"
	"github.com/tiktok-lite/server/service"
)

// Interaction serves likes and comments.
type Interaction struct {
	svc *service.Interactions
	log *zap.Logger
}

// NewInteraction returns the like and comment controller.
func NewInteraction(svc *service.Interactions, log *zap.Logger) *Interaction {
	return &Interaction{svc: svc, log: log}
}

type favoriteRequest struct {
	VideoID    int64 `form:"video_id" binding:"required,gt=0"`
	ActionType int32 `form:"action_type" binding:"required,oneof=1 2"`
}

// FavoriteAction handles POST /douyin/favorite/action/.
func (h *Interaction) FavoriteAction(c *gin.Context) {
	var req favoriteRequest
	err := bind(c, &req)
	if err == nil {
		ctx, viewer := c.Request.Context(), middleware.ViewerID(c)
		if req.ActionType == 1 {
			err = h.svc.Like(ctx, viewer, req.VideoID)
		} else {
			err = h.svc.Unlike(ctx, viewer, req.VideoID)
		}
	}
	response.Write(c, h.log, &response.Envelope{}, err)
}

// FavoriteList handles GET /douyin/favorite/list/.
func (h *Interaction) FavoriteList(c *gin.Context) {
	var req listRequest
	resp := videoListResponse{VideoList: []service.Video{}}
	err := bind(c, &req)
	if err == nil {
		resp.VideoList, err = h.svc.FavoriteList(c.Request.Context(), middleware.ViewerID(c), req.UserID)
	}
	response.Write(c, h.log, &resp, err)
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
	var req commentRequest
	var resp commentResponse
	err := bind(c, &req)
	if err == nil {
		ctx, viewer := c.Request.Context(), middleware.ViewerID(c)
		switch {
		case req.ActionType == 1:
			resp.Comment, err = h.svc.AddComment(ctx, viewer, req.VideoID, req.CommentText)
		case req.CommentID == 0:
			err = errcode.InvalidParam.WithMsg("comment_id is required to delete a comment")
		default:
			err = h.svc.DeleteComment(ctx, viewer, req.VideoID, req.CommentID)
		}
	}
	response.Write(c, h.log, &resp, err)
}

type commentListRequest struct {
	VideoID int64 `form:"video_id" binding:"required,gt=0"`
}

type commentListResponse struct {
	response.Envelope
	CommentList []service.Comment `json:"comment_list"`
}

// CommentList handles GET /douyin/comment/list/.
func (h *Interaction) CommentList(c *gin.Context) {
	var req commentListRequest
	resp := commentListResponse{CommentList: []service.Comment{}}
	err := bind(c, &req)
	if err == nil {
		resp.CommentList, err = h.svc.CommentList(c.Request.Context(), middleware.ViewerID(c), req.VideoID)
	}
	response.Write(c, h.log, &resp, err)
}
