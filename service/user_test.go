package service_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tiktok-lite/server/pkg/errcode"
)

func TestRegisterAndLogin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		s, err := a.users.Register(ctx, "  alice  ", "secret1")
		if err != nil {
			t.Fatalf("register: %v", err)
		}
		if id, err := a.tokens.Verify(s.Token); err != nil || id != s.UserID {
			t.Errorf("token names %d (%v), want %d", id, err, s.UserID)
		}
		if u := a.profile(t, s.UserID); u.Name != "alice" {
			t.Errorf("name = %q, want trimmed alice", u.Name)
		}
		if _, err := a.users.Register(ctx, "alice", "another1"); !errors.Is(err, errcode.NameTaken) {
			t.Errorf("duplicate register: %v, want NameTaken", err)
		}
		if _, err := a.users.Register(ctx, "Alice", "another1"); err != nil {
			t.Errorf("register Alice (other case): %v, want success: names are case-sensitive", err)
		}
		l, err := a.users.Login(ctx, "alice", "secret1")
		if err != nil || l.UserID != s.UserID {
			t.Fatalf("login = %+v, %v", l, err)
		}
		_, wrongPw := a.users.Login(ctx, "alice", "secret2")
		_, noUser := a.users.Login(ctx, "nobody", "secret1")
		if !errors.Is(wrongPw, errcode.WrongCredentials) || !errors.Is(noUser, errcode.WrongCredentials) {
			t.Errorf("wrong password: %v; unknown name: %v; want WrongCredentials for both", wrongPw, noUser)
		}
		if wrongPw.Error() != noUser.Error() {
			t.Errorf("messages differ: %q vs %q; must not tell which was wrong", wrongPw, noUser)
		}
	})
}

func TestRegisterLimitsCountCharacters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		tests := []struct {
			name, user, pw string
			ok             bool
		}{
			{"32 Chinese characters", strings.Repeat("名", 32), "secret1", true},
			{"33 characters", strings.Repeat("a", 33), "secret1", false},
			{"empty name", "", "secret1", false},
			{"blank name", "   ", "secret1", false},
			{"control char", "bob\x00", "secret1", false},
			{"6-char password of 4-byte runes", "emoji", "😀😀😀😀😀😀", true},
			{"5-char password", "five", "12345", false},
			{"32-char password of 3-byte runes", "long", strings.Repeat("密", 32), true},
			{"33-char password", "toolong", strings.Repeat("a", 33), false},
		}
		for _, tt := range tests {
			_, err := a.users.Register(ctx, tt.user, tt.pw)
			if tt.ok && err != nil {
				t.Errorf("%s: %v, want success", tt.name, err)
			}
			if !tt.ok && !errors.Is(err, errcode.InvalidParam) {
				t.Errorf("%s: %v, want InvalidParam", tt.name, err)
			}
		}
		if _, err := a.users.Login(ctx, "emoji", "😀😀😀😀😀😀"); err != nil {
			t.Errorf("login with emoji password: %v", err)
		}
	})
}

func TestConcurrentRegisterSameName(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		errs := parallel(10, func(int) error {
			_, err := a.users.Register(context.Background(), "race", "secret1")
			return err
		})
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, errcode.NameTaken):
				t.Errorf("unexpected error %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d registrations of one name succeeded, want exactly 1", ok)
		}
		if n := a.count(t, "users", "name = ?", "race"); n != 1 {
			t.Errorf("%d rows named race, want 1", n)
		}
	})
}

func TestProfileUnknownUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		if _, err := a.users.Profile(context.Background(), 0, 999999); !errors.Is(err, errcode.UserNotFound) {
			t.Errorf("Profile(unknown) = %v, want UserNotFound", err)
		}
	})
}
