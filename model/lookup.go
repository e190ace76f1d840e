package model

import (
	"context"
	"fmt"
)

// Lookup names everything one page of results needs: the objects and the
// viewer's relation to them. Gathering it up front is what lets a page of
// any size be built with a fixed number of queries (or one Redis pipeline).
type Lookup struct {
	Viewer   int64   // 0 for a guest
	VideoIDs []int64 // videos to load, and to check the viewer's likes on
	UserIDs  []int64 // users to load, and to check whether the viewer follows
}

// Found is what a Lookup returns; missing ids are simply absent.
type Found struct {
	Videos    map[int64]*Video
	Users     map[int64]*User
	Liked     map[int64]bool
	Following map[int64]bool
}

// Find answers l with at most four queries.
func (s *Store) Find(ctx context.Context, l Lookup) (*Found, error) {
	var f Found
	var err error
	if f.Videos, err = s.VideosByIDs(ctx, l.VideoIDs); err != nil {
		return nil, err
	}
	if f.Users, err = s.UsersByIDs(ctx, l.UserIDs); err != nil {
		return nil, err
	}
	if f.Liked, err = s.LikedAmong(ctx, l.Viewer, l.VideoIDs); err != nil {
		return nil, err
	}
	if f.Following, err = s.FollowingAmong(ctx, l.Viewer, l.UserIDs); err != nil {
		return nil, fmt.Errorf("find: %w", err)
	}
	return &f, nil
}
