package e2e

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestAccounts(t *testing.T) {
	for _, st := range stacks() {
		t.Run(st.name, func(t *testing.T) {
			s := start(t, "", st.env(t)...)
			id, token := s.register(t, "alice", "secret1")
			if id <= 0 || token == "" {
				t.Fatalf("register gave id %d token %q", id, token)
			}

			// Register and login carry user_id and token even on failure.
			dup := s.post(t, "/douyin/user/register/", url.Values{"username": {"alice"}, "password": {"secret1"}})
			wantCode(t, "duplicate name", dup, 40901)
			if dup.Int("user_id") != 0 || dup["token"] != "" {
				t.Errorf("failed register: user_id %v token %v, want 0 and \"\" present", dup["user_id"], dup["token"])
			}
			for _, tt := range []struct {
				name, user, pw string
				code           int64
			}{
				{"name of 33 chars", strings.Repeat("a", 33), "secret1", 40001},
				{"password of 5 chars", "bob", "12345", 40001},
				{"password of 33 chars", "bob", strings.Repeat("p", 33), 40001},
				{"missing password", "bob", "", 40001},
				{"32 Chinese chars", strings.Repeat("字", 32), "secret1", 0},
				{"6 emoji password", "emoji", "😀😀😀😀😀😀", 0},
			} {
				r := s.post(t, "/douyin/user/register/", url.Values{"username": {tt.user}, "password": {tt.pw}})
				wantCode(t, tt.name, r, tt.code)
			}

			login := s.post(t, "/douyin/user/login/", url.Values{"username": {"alice"}, "password": {"secret1"}})
			wantCode(t, "login", login, 0)
			if login.Int("user_id") != id || login.Str("token") == "" {
				t.Errorf("login = %v, want user %d and a token", login, id)
			}
			wrong := s.post(t, "/douyin/user/login/", url.Values{"username": {"alice"}, "password": {"secret2"}})
			unknown := s.post(t, "/douyin/user/login/", url.Values{"username": {"nobody"}, "password": {"secret1"}})
			wantCode(t, "wrong password", wrong, 40103)
			wantCode(t, "unknown name", unknown, 40103)
			if wrong.Msg() != unknown.Msg() {
				t.Errorf("wrong password says %q, unknown name says %q; must be the same", wrong.Msg(), unknown.Msg())
			}
			if _, ok := wrong["token"]; !ok {
				t.Errorf("failed login has no token field")
			}

			// User info: by id as a guest, and the token's own user.
			info := s.get(t, "/douyin/user/", url.Values{"user_id": {itoa(id)}})
			wantCode(t, "user info", info, 0)
			u := info.Obj("user")
			if u.Int("id") != id || u.Str("name") != "alice" {
				t.Errorf("user = %v", u)
			}
			for _, field := range []string{"follow_count", "follower_count", "total_favorited", "work_count", "favorite_count"} {
				if u.Int(field) != 0 {
					t.Errorf("%s = %v, want a present 0", field, u[field])
				}
			}
			if u["is_follow"] != false {
				t.Errorf("is_follow = %v, want a present false", u["is_follow"])
			}
			for _, field := range []string{"avatar", "background_image"} {
				if !strings.HasPrefix(u.Str(field), "http") {
					t.Errorf("%s = %q, want an absolute URL", field, u.Str(field))
				}
			}
			if u.Str("signature") == "" {
				t.Errorf("signature empty, want a default")
			}
			self := s.get(t, "/douyin/user/", url.Values{"token": {token}})
			if self.Obj("user").Int("id") != id {
				t.Errorf("user/ with only a token = %v, want the token's user", self)
			}
			wantCode(t, "unknown user", s.get(t, "/douyin/user/", url.Values{"user_id": {"999999"}}), 40401)
			wantCode(t, "malformed user_id", s.get(t, "/douyin/user/", url.Values{"user_id": {"12abc"}}), 40001)
			wantCode(t, "negative user_id", s.get(t, "/douyin/user/", url.Values{"user_id": {"-3"}}), 40001)

			// Trailing slash optional, no redirect, on POST too.
			noSlash := s.post(t, "/douyin/user/login", url.Values{"username": {"alice"}, "password": {"secret1"}})
			wantCode(t, "login without trailing slash", noSlash, 0)
		})
	}
}

func TestTokens(t *testing.T) {
	s := start(t, "")
	id, token := s.register(t, "alice", "secret1")
	otherID, _ := s.register(t, "bob", "secret1")
	parts := strings.Split(token, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"tiktok-lite","sub":"`+itoa(otherID)+`","exp":9999999999}`)) + "." + parts[2]
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	for name, bad := range map[string]string{"tampered": forged, "alg none": none, "garbage": "not-a-token"} {
		// A write refuses it...
		r := s.post(t, "/douyin/relation/action/", url.Values{"token": {bad}, "to_user_id": {itoa(otherID)}, "action_type": {"1"}})
		wantCode(t, name+" token on a write", r, 40102)
		// ...a public read serves it as a guest.
		g := s.get(t, "/douyin/user/", url.Values{"user_id": {itoa(id)}, "token": {bad}})
		wantCode(t, name+" token on a public read", g, 0)
	}
	wantCode(t, "no token on a write",
		s.post(t, "/douyin/relation/action/", url.Values{"to_user_id": {itoa(otherID)}, "action_type": {"1"}}), 40101)

	// Authorization: Bearer works as well as the token parameter.
	req, err := http.NewRequest(http.MethodPost, s.base+"/douyin/relation/action/",
		strings.NewReader(url.Values{"to_user_id": {itoa(otherID)}, "action_type": {"1"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "bearer follow", decode(t, resp), 0)
	if n := s.get(t, "/douyin/user/", url.Values{"user_id": {itoa(otherID)}}).Obj("user").Int("follower_count"); n != 1 {
		t.Errorf("follower_count = %d after a bearer follow, want 1", n)
	}
}

func TestSecretSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	_, token := s.register(t, "alice", "secret1")
	s.stop()
	s2 := start(t, dir)
	r := s2.get(t, "/douyin/relation/friend/list/", url.Values{"token": {token}, "user_id": {"1"}})
	wantCode(t, "old token after restart", r, 0)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestMissingParameterIsNamed(t *testing.T) {
	s := start(t, "")
	_, token := s.register(t, "alice", "secret1")
	r := s.post(t, "/douyin/favorite/action/", url.Values{"token": {token}, "action_type": {"1"}})
	wantCode(t, "like without video_id", r, 40001)
	if r.Msg() != "video_id is required" {
		t.Errorf("status_msg = %q, want %q", r.Msg(), "video_id is required")
	}
	r = s.post(t, "/douyin/favorite/action/", url.Values{"token": {token}, "video_id": {"1"}, "action_type": {"3"}})
	if r.Code() != 40001 || !strings.Contains(r.Msg(), "action_type") {
		t.Errorf("bad action_type: %d %q, want 40001 naming action_type", r.Code(), r.Msg())
	}
}

func TestRateLimits(t *testing.T) {
	s := start(t, "", "TIKTOK_RATELIMIT_ENABLED=true", "TIKTOK_RATELIMIT_AUTH_PER_MINUTE=3", "TIKTOK_RATELIMIT_WRITE_PER_MINUTE=4")
	_, token := s.register(t, "alice", "secret1") // 1 of 3
	otherID, _ := s.register(t, "bob", "secret1") // 2 of 3
	wantCode(t, "third auth request", s.post(t, "/douyin/user/login/", url.Values{"username": {"alice"}, "password": {"secret1"}}), 0)
	wantCode(t, "fourth auth request", s.post(t, "/douyin/user/login/", url.Values{"username": {"alice"}, "password": {"secret1"}}), 42901)

	for i := 0; i < 4; i++ {
		action := []string{"1", "2"}[i%2]
		wantCode(t, "write within the limit", s.post(t, "/douyin/relation/action/",
			url.Values{"token": {token}, "to_user_id": {itoa(otherID)}, "action_type": {action}}), 0)
	}
	wantCode(t, "write over the limit", s.post(t, "/douyin/relation/action/",
		url.Values{"token": {token}, "to_user_id": {itoa(otherID)}, "action_type": {"1"}}), 42901)
	// Reads are not limited.
	wantCode(t, "read", s.get(t, "/douyin/user/", url.Values{"user_id": {itoa(otherID)}}), 0)
}

func TestNoSecretsInLogs(t *testing.T) {
	for _, st := range []stack{embedded(), fullStack()} {
		t.Run(st.name, func(t *testing.T) {
			s := start(t, "", append(st.env(t), "TIKTOK_LOG_LEVEL=debug")...)
			const password = "Pa55-word-never-logged"
			_, token := s.register(t, "carol", password)
			login := s.post(t, "/douyin/user/login/", url.Values{"username": {"carol"}, "password": {password}})
			wantCode(t, "login", login, 0)
			s.get(t, "/douyin/user/", url.Values{"token": {token}})
			s.post(t, "/douyin/user/login/", url.Values{"username": {"carol"}, "password": {password + "x"}})
			s.stop()
			logs := s.logs.String()
			if !strings.Contains(logs, "/douyin/user/login/") {
				t.Fatalf("no access log lines captured:\n%s", logs)
			}
			for what, secret := range map[string]string{
				"password": password, "token": token, "login token": login.Str("token"),
				"token signature": token[strings.LastIndex(token, ".")+1:],
			} {
				if strings.Contains(logs, secret) {
					t.Errorf("the %s appears in the server's log", what)
				}
			}
		})
	}
}
