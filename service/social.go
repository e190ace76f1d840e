package service

import (
	"context"
	"fmt"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/batch"
	"github.com/tiktok-lite/server/pkg/errcode"
)

// ChatHistory caps the whole-conversation answer of message/chat.
const ChatHistory = 100

// chatPollLimit caps one poll's answer; a poller that gets this many asks
// again with the last create_time and receives the rest.
const chatPollLimit = 500

// Social is follows, friends and chat.
type Social struct {
	store   Store
	reads   Reads
	views   views
	inv     Invalidator
	follows *batch.Combiner[model.FollowChange, outcome]
}

// NewSocial returns the relation and message service.
func NewSocial(store Store, reads Reads, present *Presenter, inv Invalidator) *Social {
	return &Social{store: store, reads: reads, views: views{reads, present}, inv: inv,
		follows: batchWrites(store, inv, applyFollows, inv.FollowKeys)}
}

func (s *Social) target(ctx context.Context, userID, toUserID int64, self string) error {
	if userID == toUserID {
		return errcode.InvalidParam.WithMsg(self)
	}
	return userMustExist(ctx, s.store, toUserID)
}

// Follow makes userID follow toUserID; following twice counts once.
func (s *Social) Follow(ctx context.Context, userID, toUserID int64) error {
	return s.setFollow(ctx, userID, toUserID, true)
}

// Unfollow undoes a follow; unfollowing a stranger changes nothing.
func (s *Social) Unfollow(ctx context.Context, userID, toUserID int64) error {
	return s.setFollow(ctx, userID, toUserID, false)
}

func (s *Social) setFollow(ctx context.Context, userID, toUserID int64, on bool) error {
	if err := s.target(ctx, userID, toUserID, "you cannot follow yourself"); err != nil {
		return err
	}
	res, err := s.follows.Do(ctx, model.FollowChange{UserID: userID, ToUserID: toUserID, On: on})
	if err == nil {
		err = res.err
	}
	if err != nil {
		return txError("follow", err)
	}
	return nil // the batch has invalidated what the change made stale
}

// FollowList returns whom userID follows, most recent first.
func (s *Social) FollowList(ctx context.Context, viewer, userID int64) ([]User, error) {
	return s.userList(ctx, viewer, userID, s.reads.FollowingIDs)
}

// FollowerList returns who follows userID, most recent first.
func (s *Social) FollowerList(ctx context.Context, viewer, userID int64) ([]User, error) {
	return s.userList(ctx, viewer, userID, s.reads.FollowerIDs)
}

func (s *Social) userList(ctx context.Context, viewer, userID int64, list func(context.Context, int64) ([]int64, error)) ([]User, error) {
	ids, err := list(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("user list: %w", err)
	}
	if len(ids) == 0 {
		if err := userMustExist(ctx, s.store, userID); err != nil {
			return nil, err
		}
		return []User{}, nil
	}
	users, err := s.views.users(ctx, viewer, ids)
	if err != nil {
		return nil, fmt.Errorf("user list: %w", err)
	}
	return users, nil
}

// FriendList returns the users who follow userID back, each with the
// latest message between them; the viewer must be userID.
func (s *Social) FriendList(ctx context.Context, viewer, userID int64) ([]FriendUser, error) {
	if userID != viewer {
		return nil, errcode.Forbidden.WithMsg("you can only see your own friends")
	}
	ids, err := s.reads.FriendIDs(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("friend list: %w", err)
	}
	users, err := s.views.users(ctx, viewer, ids)
	if err != nil {
		return nil, fmt.Errorf("friend list: %w", err)
	}
	latest, err := s.store.LatestMessages(ctx, userID, ids)
	if err != nil {
		return nil, fmt.Errorf("friend list: %w", err)
	}
	out := make([]FriendUser, 0, len(users))
	for _, u := range users {
		f := FriendUser{User: u}
		if m, ok := latest[u.ID]; ok {
			f.Message = m.Content
			if m.FromUserID == userID {
				f.MsgType = 1
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// SendMessage sends content from userID to toUserID.
func (s *Social) SendMessage(ctx context.Context, userID, toUserID int64, content string) (*Message, error) {
	content, err := text("content", content, MaxMessageLen, true)
	if err != nil {
		return nil, err
	}
	if err := s.target(ctx, userID, toUserID, "you cannot send a message to yourself"); err != nil {
		return nil, err
	}
	m := &model.Message{FromUserID: userID, ToUserID: toUserID, Content: content}
	err = s.store.Tx(ctx, func(tx *model.Store) error {
		if ok, err := tx.UserExists(ctx, userID); err != nil || !ok {
			if err == nil {
				err = model.ErrUserGone
			}
			return err
		}
		return tx.SendMessage(ctx, m)
	})
	if err != nil {
		return nil, txError("send message", err)
	}
	out := message(m)
	return &out, nil
}

// Chat answers message/chat. With preMsgTime 0 it returns the latest
// ChatHistory messages of the conversation, both directions, oldest first.
// With preMsgTime > 0 it returns only the messages sent to the viewer after
// it: the client has drawn its own already.
func (s *Social) Chat(ctx context.Context, viewer, otherID, preMsgTime int64) ([]Message, error) {
	if viewer == otherID {
		return nil, errcode.InvalidParam.WithMsg("you cannot chat with yourself")
	}
	var rows []*model.Message
	var err error
	if preMsgTime > 0 {
		rows, err = s.store.MessagesAfter(ctx, otherID, viewer, preMsgTime, chatPollLimit)
	} else {
		if err := userMustExist(ctx, s.store, otherID); err != nil {
			return nil, err
		}
		rows, err = s.store.RecentMessages(ctx, viewer, otherID, ChatHistory)
	}
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	out := make([]Message, 0, len(rows))
	for _, m := range rows {
		out = append(out, message(m))
	}
	return out, nil
}
