package service_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tiktok-lite/server/pkg/errcode"
)

// Two names that look the same are one name; a name that shows nothing, or
// hides something, is refused. The same rule on SQLite and MySQL.
func TestNamesThatLookAlike(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		for _, base := range []string{"alice", "café"} {
			if _, err := a.users.Register(ctx, base, "secret1"); err != nil {
				t.Fatalf("register %q: %v", base, err)
			}
		}
		invisible := []rune{0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, 0x034F, 0x115F, 0x3164, 0x202E, 0x2066, 0x202A, 0x2028, 0x2029}
		for _, r := range invisible {
			for _, name := range []string{"alice" + string(r), "al" + string(r) + "ice", string(r) + "alice"} {
				_, err := a.users.Register(ctx, name, "secret1")
				if !errors.Is(err, errcode.InvalidParam) && !errors.Is(err, errcode.NameTaken) {
					t.Errorf("register %q (U+%04X): %v, want it refused", name, r, err)
				}
			}
			if _, err := a.users.Register(ctx, strings.Repeat(string(r), 3), "secret1"); !errors.Is(err, errcode.InvalidParam) {
				t.Errorf("register a name of U+%04X alone: %v, want InvalidParam", r, err)
			}
		}
		// NFD café and full-width letters are the same names as the plain ones.
		for _, name := range []string{"cafe\u0301", "ａｌｉｃｅ"} {
			if _, err := a.users.Register(ctx, name, "secret1"); !errors.Is(err, errcode.NameTaken) {
				t.Errorf("register %q: %v, want NameTaken", name, err)
			}
		}
		// And they log in to the same account.
		want, err := a.users.Login(ctx, "café", "secret1")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := a.users.Login(ctx, "cafe\u0301", "secret1"); err != nil || got.UserID != want.UserID {
			t.Errorf("log in as NFD café = %+v, %v; want user %d", got, err, want.UserID)
		}
		if _, err := a.users.Register(ctx, "bob smith", "secret1"); !errors.Is(err, errcode.InvalidParam) {
			t.Errorf("a name with a space: %v, want InvalidParam", err)
		}
		for _, ok := range []string{"张三", "Zoë", "bob_smith-1.x", "Alice"} {
			if _, err := a.users.Register(ctx, ok, "secret1"); err != nil {
				t.Errorf("register %q: %v, want it accepted", ok, err)
			}
		}
	})
}

// Every text must show something; titles, comments and messages are kept
// in NFC.
func TestTextsNeedAVisibleCharacter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *app) {
		ctx := context.Background()
		author := a.register(t, "author")
		friend := a.register(t, "friend")
		v := a.publish(t, author, "clip")
		for _, blank := range []string{"\u200B", "\u200B\u200B\u200B", "\u3164", " \u2060 ", "\uFEFF\u00AD"} {
			if _, err := a.inter.AddComment(ctx, author, v.ID, blank); !errors.Is(err, errcode.InvalidParam) {
				t.Errorf("comment %q: %v, want InvalidParam", blank, err)
			}
			if _, err := a.social.SendMessage(ctx, author, friend, blank); !errors.Is(err, errcode.InvalidParam) {
				t.Errorf("message %q: %v, want InvalidParam", blank, err)
			}
		}
		c, err := a.inter.AddComment(ctx, author, v.ID, "cafe\u0301 ok")
		if err != nil {
			t.Fatal(err)
		}
		if c.Content != "café ok" {
			t.Errorf("comment stored as %q, want the NFC form %q", c.Content, "café ok")
		}
	})
}
