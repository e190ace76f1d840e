package model

import (
	"context"
	"fmt"
)

// Follow says UserID follows ToUserID.
type Follow struct {
	ID        int64
	UserID    int64
	ToUserID  int64
	CreatedAt int64
}

// FollowChange is UserID following (On) or unfollowing ToUserID.
type FollowChange struct {
	UserID, ToUserID int64
	On               bool
}

// FollowUser records that userID follows toUserID and moves both counters;
// a repeat changes nothing. Call it inside Tx.
func (s *Store) FollowUser(ctx context.Context, userID, toUserID int64) (bool, error) {
	return s.applyOne(s.ApplyFollows(ctx, []FollowChange{{UserID: userID, ToUserID: toUserID, On: true}}))
}

// UnfollowUser removes the follow; unfollowing a stranger changes nothing.
// Call it inside Tx.
func (s *Store) UnfollowUser(ctx context.Context, userID, toUserID int64) (bool, error) {
	return s.applyOne(s.ApplyFollows(ctx, []FollowChange{{UserID: userID, ToUserID: toUserID, On: false}}))
}

// ApplyFollows makes changes in order and reports which of them changed
// anything, in a fixed number of statements (see applyPairs); the counters
// of all of them move in one UPDATE. Call it inside Tx.
func (s *Store) ApplyFollows(ctx context.Context, changes []FollowChange) ([]bool, error) {
	pairs := make([]pairChange, len(changes))
	for i, c := range changes {
		pairs[i] = pairChange{c.UserID, c.ToUserID, c.On}
	}
	changed, err := s.applyPairs(ctx, "follows", "to_user_id", pairs)
	if err != nil {
		return nil, fmt.Errorf("follow: %w", err)
	}
	users := counterDeltas{}
	for i, c := range changes {
		if !changed[i] {
			continue
		}
		by := sign(c.On)
		users.add(c.UserID, "follow_count", by)
		users.add(c.ToUserID, "follower_count", by)
	}
	return changed, s.bumpUsers(ctx, users.list()...)
}

// FollowingIDs returns whom userID follows, most recent first.
func (s *Store) FollowingIDs(ctx context.Context, userID int64) ([]int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Model(&Follow{}).Where("user_id = ?", userID).
		Order("created_at DESC, id DESC").Pluck("to_user_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("following ids: %w", translate(err))
	}
	return ids, nil
}

// FollowerIDs returns who follows userID, most recent first.
func (s *Store) FollowerIDs(ctx context.Context, userID int64) ([]int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Model(&Follow{}).Where("to_user_id = ?", userID).
		Order("created_at DESC, id DESC").Pluck("user_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("follower ids: %w", translate(err))
	}
	return ids, nil
}

// FriendIDs returns the users who follow userID and whom userID follows
// back, most recently followed first.
func (s *Store) FriendIDs(ctx context.Context, userID int64) ([]int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Table("follows AS f").
		Joins("JOIN follows AS b ON b.user_id = f.to_user_id AND b.to_user_id = f.user_id").
		Where("f.user_id = ?", userID).
		Order("f.created_at DESC, f.id DESC").Pluck("f.to_user_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("friend ids: %w", translate(err))
	}
	return ids, nil
}

// FollowingAmong returns which of userIDs viewerID follows.
func (s *Store) FollowingAmong(ctx context.Context, viewerID int64, userIDs []int64) (map[int64]bool, error) {
	out := make(map[int64]bool, len(userIDs))
	if viewerID == 0 || len(userIDs) == 0 {
		return out, nil
	}
	var ids []int64
	err := s.db.WithContext(ctx).Model(&Follow{}).
		Where("user_id = ? AND to_user_id IN ?", viewerID, uniqueIDs(userIDs)).Pluck("to_user_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("following among: %w", translate(err))
	}
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}
