package service_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-lite/server/pkg/errcode"
	"github.com/tiktok-lite/server/service"
)

func TestConcurrentFollowsAreExact(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		star := a.register(t, "star")
		fans := a.registerN(t, "fan", 30)
		// Each fan follows three times at once and the star follows every
		// fan back at the same time: opposite lock orders, no deadlock.
		errs := parallel(120, func(i int) error {
			if i >= 90 {
				return a.social.Follow(ctx, star, fans[i-90])
			}
			return a.social.Follow(ctx, fans[i%30], star)
		})
		noErrors(t, "follow", errs)
		s := a.profile(t, star)
		if s.FollowerCount != 30 || s.FollowCount != 30 {
			t.Errorf("star follower/follow = %d/%d, want 30/30", s.FollowerCount, s.FollowCount)
		}
		for _, f := range fans {
			if p := a.profile(t, f); p.FollowCount != 1 || p.FollowerCount != 1 {
				t.Fatalf("fan %d follow/follower = %d/%d, want 1/1", f, p.FollowCount, p.FollowerCount)
			}
		}
		friends, err := a.social.FriendList(ctx, star, star)
		if err != nil || len(friends) != 30 {
			t.Fatalf("friends = %d, %v; want 30", len(friends), err)
		}

		if err := a.social.Follow(ctx, fans[0], star); err != nil {
			t.Fatal(err)
		}
		if s := a.profile(t, star); s.FollowerCount != 30 {
			t.Errorf("star follower_count = %d after a repeated follow, want 30", s.FollowerCount)
		}

		noErrors(t, "unfollow", parallel(60, func(i int) error { return a.social.Unfollow(ctx, fans[i%30], star) }))
		if s := a.profile(t, star); s.FollowerCount != 0 {
			t.Errorf("star follower_count = %d after unfollows, want 0", s.FollowerCount)
		}
		if n := a.count(t, "follows", "to_user_id = ?", star); n != 0 {
			t.Errorf("%d follow rows to star, want 0", n)
		}
	})
}

func TestFollowRulesAndLists(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		ids := a.registerN(t, "u", 4)
		me := ids[0]
		if err := a.social.Follow(ctx, me, me); !errors.Is(err, errcode.InvalidParam) {
			t.Errorf("follow self: %v, want InvalidParam", err)
		}
		if err := a.social.Follow(ctx, me, 999999); !errors.Is(err, errcode.UserNotFound) {
			t.Errorf("follow unknown: %v, want UserNotFound", err)
		}
		if err := a.social.Unfollow(ctx, me, ids[1]); err != nil {
			t.Errorf("unfollow stranger: %v, want nil", err)
		}
		for _, id := range ids[1:] {
			if err := a.social.Follow(ctx, me, id); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond) // distinct follow times for the order check
		}
		if err := a.social.Follow(ctx, ids[2], me); err != nil {
			t.Fatal(err)
		}
		following, err := a.social.FollowList(ctx, me, me)
		if err != nil {
			t.Fatal(err)
		}
		if got := userIDs(following); !equal(got, []int64{ids[3], ids[2], ids[1]}) {
			t.Errorf("follow list = %v, want most recent first %v", got, []int64{ids[3], ids[2], ids[1]})
		}
		for _, u := range following {
			if !u.IsFollow {
				t.Errorf("user %d in my follow list has is_follow false", u.ID)
			}
		}
		followers, err := a.social.FollowerList(ctx, ids[1], ids[2])
		if err != nil || !equal(userIDs(followers), []int64{me}) {
			t.Errorf("followers of %d = %v, %v; want [%d]", ids[2], userIDs(followers), err, me)
		}
		if followers[0].IsFollow {
			t.Errorf("viewer %d does not follow %d, but is_follow is true", ids[1], me)
		}
		friends, err := a.social.FriendList(ctx, me, me)
		if err != nil || len(friends) != 1 || friends[0].ID != ids[2] || friends[0].Message != "" {
			t.Errorf("friends = %+v, %v; want only %d with no message", friends, err, ids[2])
		}
		if _, err := a.social.FriendList(ctx, me, ids[2]); !errors.Is(err, errcode.Forbidden) {
			t.Errorf("someone else's friend list: %v, want Forbidden", err)
		}
		if _, err := a.social.FollowList(ctx, 0, 999999); !errors.Is(err, errcode.UserNotFound) {
			t.Errorf("follow list of unknown user: %v, want UserNotFound", err)
		}
	})
}

func TestMessagesRulesAndFriendLatest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		me, friend := a.register(t, "me"), a.register(t, "friend")
		for _, bad := range []string{"", "   ", string(make([]rune, 501))} {
			if _, err := a.social.SendMessage(ctx, me, friend, bad); !errors.Is(err, errcode.InvalidParam) {
				t.Errorf("content %q: %v, want InvalidParam", bad, err)
			}
		}
		if _, err := a.social.SendMessage(ctx, me, me, "hi me"); !errors.Is(err, errcode.InvalidParam) {
			t.Errorf("message to self: %v, want InvalidParam", err)
		}
		if _, err := a.social.SendMessage(ctx, me, 999999, "hi"); !errors.Is(err, errcode.UserNotFound) {
			t.Errorf("message to unknown: %v, want UserNotFound", err)
		}
		if err := a.social.Follow(ctx, me, friend); err != nil {
			t.Fatal(err)
		}
		if err := a.social.Follow(ctx, friend, me); err != nil {
			t.Fatal(err)
		}
		if _, err := a.social.SendMessage(ctx, friend, me, "hello"); err != nil {
			t.Fatal(err)
		}
		fl, err := a.social.FriendList(ctx, me, me)
		if err != nil || len(fl) != 1 || fl[0].Message != "hello" || fl[0].MsgType != 0 {
			t.Errorf("friend list = %+v, %v; want message hello received (msgType 0)", fl, err)
		}
		if _, err := a.social.SendMessage(ctx, me, friend, "hi back"); err != nil {
			t.Fatal(err)
		}
		fl, err = a.social.FriendList(ctx, me, me)
		if err != nil || len(fl) != 1 || fl[0].Message != "hi back" || fl[0].MsgType != 1 {
			t.Errorf("friend list = %+v, %v; want message hi back sent (msgType 1)", fl, err)
		}
	})
}

// poller is the APK's chat screen: the whole conversation first, then
// every poll asks for what came after the last create_time it has seen.
type poller struct {
	a      *app
	viewer int64
	other  int64
	last   int64
	seen   map[int64]int // message id → times received
}

func (p *poller) poll(t *testing.T) {
	t.Helper()
	msgs, err := p.a.social.Chat(context.Background(), p.viewer, p.other, p.last)
	if err != nil {
		t.Fatalf("chat poll: %v", err)
	}
	for i, m := range msgs {
		if i > 0 && m.CreateTime <= msgs[i-1].CreateTime {
			t.Fatalf("poll not in create_time order: %d then %d", msgs[i-1].CreateTime, m.CreateTime)
		}
		if p.last > 0 && m.FromUserID != p.other {
			t.Fatalf("poll after %d returned the viewer's own message %d", p.last, m.ID)
		}
		p.seen[m.ID]++
		p.last = m.CreateTime
	}
}

func TestChatPollingNeverDuplicatesOrLoses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		alice, bob := a.register(t, "alice"), a.register(t, "bob")
		pa := &poller{a: a, viewer: alice, other: bob, seen: map[int64]int{}}
		pb := &poller{a: a, viewer: bob, other: alice, seen: map[int64]int{}}
		pa.poll(t)
		pb.poll(t)
		// The conversation is empty, so the pollers hold no cursor yet. A
		// poll without one answers the latest ChatHistory messages (how a
		// client opens a chat), so a burst larger than that between two
		// polls would skip its start by design; start the cursors at the
		// time before the bursts instead, as a client that has drawn the
		// chat holds one.
		pa.last = time.Now().UnixMilli() - 1
		pb.last = pa.last

		// Bursts from both sides at once while both keep polling.
		const perSide = 60
		sent := map[int64]int64{} // message id → sender
		var mu sync.Mutex
		var wg sync.WaitGroup
		stop := make(chan struct{})
		pollErr := make(chan error, 2)
		for _, p := range []*poller{pa, pb} {
			wg.Add(1)
			go func(p *poller) {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					msgs, err := a.social.Chat(ctx, p.viewer, p.other, p.last)
					if err != nil {
						pollErr <- err
						return
					}
					mu.Lock()
					for _, m := range msgs {
						p.seen[m.ID]++
						p.last = m.CreateTime
					}
					mu.Unlock()
				}
			}(p)
		}
		errs := parallel(2*perSide, func(i int) error {
			from, to := alice, bob
			if i%2 == 1 {
				from, to = bob, alice
			}
			m, err := a.social.SendMessage(ctx, from, to, "burst")
			if err == nil {
				mu.Lock()
				sent[m.ID] = from
				mu.Unlock()
			}
			return err
		})
		noErrors(t, "send", errs)
		close(stop)
		wg.Wait()
		select {
		case err := <-pollErr:
			t.Fatalf("poll: %v", err)
		default:
		}
		pa.poll(t) // drain what arrived after the last concurrent poll
		pb.poll(t)

		for id, from := range sent {
			receiver := pa
			if from == alice {
				receiver = pb
			}
			if n := receiver.seen[id]; n != 1 {
				t.Errorf("message %d received %d times by its receiver, want exactly 1", id, n)
			}
		}
		var times []service.Message
		times, err := a.social.Chat(ctx, alice, bob, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(times) != service.ChatHistory {
			t.Errorf("whole conversation returned %d messages, want the cap %d", len(times), service.ChatHistory)
		}
		for i := 1; i < len(times); i++ {
			if times[i].CreateTime <= times[i-1].CreateTime {
				t.Fatalf("create_time not strictly increasing: %d then %d", times[i-1].CreateTime, times[i].CreateTime)
			}
		}
	})
}

func userIDs(us []service.User) []int64 {
	out := make([]int64, 0, len(us))
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
