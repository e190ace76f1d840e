package controller

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/middleware"
	"github.com/tiktok-lite/server/pkg/errcode"
)

// boundRequest is one request struct of the package with the rules a
// successful bind must have enforced on it.
type boundRequest struct {
	name  string
	new   func() any
	valid func(req any) error
}

func positive(name string, n int64) error {
	if n <= 0 {
		return fmt.Errorf("%s = %d, want > 0", name, n)
	}
	return nil
}

func action(n int32, allowed ...int32) error {
	for _, a := range allowed {
		if n == a {
			return nil
		}
	}
	return fmt.Errorf("action_type = %d, want one of %v", n, allowed)
}

// boundRequests lists every struct the controllers bind; a new one belongs
// here too.
func boundRequests() []boundRequest {
	return []boundRequest{
		{"credentials", func() any { return &credentials{} }, func(r any) error {
			q := r.(*credentials)
			if q.Username == "" || q.Password == "" {
				return fmt.Errorf("empty username %q or password %q accepted", q.Username, q.Password)
			}
			return nil
		}},
		{"userRequest", func() any { return &userRequest{} }, func(r any) error {
			if id := r.(*userRequest).UserID; id != nil {
				return positive("user_id", *id) // present means a real id; only absent means "me"
			}
			return nil
		}},
		{"feedRequest", func() any { return &feedRequest{} }, func(any) error { return nil }},
		{"listRequest", func() any { return &listRequest{} }, func(r any) error {
			return positive("user_id", r.(*listRequest).UserID)
		}},
		{"favoriteRequest", func() any { return &favoriteRequest{} }, func(r any) error {
			q := r.(*favoriteRequest)
			return errors.Join(positive("video_id", q.VideoID), action(q.ActionType, 1, 2))
		}},
		{"commentRequest", func() any { return &commentRequest{} }, func(r any) error {
			q := r.(*commentRequest)
			var neg error
			if q.CommentID < 0 {
				neg = fmt.Errorf("comment_id = %d, want 0 or > 0", q.CommentID)
			}
			return errors.Join(positive("video_id", q.VideoID), action(q.ActionType, 1, 2), neg)
		}},
		{"commentListRequest", func() any { return &commentListRequest{} }, func(r any) error {
			return positive("video_id", r.(*commentListRequest).VideoID)
		}},
		{"relationRequest", func() any { return &relationRequest{} }, func(r any) error {
			q := r.(*relationRequest)
			return errors.Join(positive("to_user_id", q.ToUserID), action(q.ActionType, 1, 2))
		}},
		{"messageRequest", func() any { return &messageRequest{} }, func(r any) error {
			q := r.(*messageRequest)
			return errors.Join(positive("to_user_id", q.ToUserID), action(q.ActionType, 1))
		}},
		{"chatRequest", func() any { return &chatRequest{} }, func(r any) error {
			q := r.(*chatRequest)
			var neg error
			if q.PreMsgTime < 0 {
				neg = fmt.Errorf("pre_msg_time = %d, want >= 0", q.PreMsgTime)
			}
			return errors.Join(positive("to_user_id", q.ToUserID), neg)
		}},
	}
}

// fuzzBoundary is the multipart boundary of fuzzed multipart bodies, so
// that the seeds can be real forms.
const fuzzBoundary = "fuzzb0undary"

// fuzzBodyLimit is small so that the too-large path is reached often.
const fuzzBodyLimit = 2048

// bodyKinds are the content types a fuzzed body is sent with.
var bodyKinds = []string{
	"",
	"application/x-www-form-urlencoded",
	"multipart/form-data; boundary=" + fuzzBoundary,
	"application/json",
	"text/plain",
	"multipart/form-data",
}

func multipartSeed(fields ...string) []byte {
	var b bytes.Buffer
	for i := 0; i+1 < len(fields); i += 2 {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", fuzzBoundary, fields[i], fields[i+1])
	}
	fmt.Fprintf(&b, "--%s--\r\n", fuzzBoundary)
	return b.Bytes()
}

// checkCoded fails unless err is a coded error with one of codes and a
// message fit to show a person.
func checkCoded(t *testing.T, what string, err error, codes ...int32) {
	t.Helper()
	var coded *errcode.Error
	if !errors.As(err, &coded) {
		t.Fatalf("%s: error %T %v, want an *errcode.Error", what, err, err)
	}
	ok := false
	for _, c := range codes {
		ok = ok || coded.Code == c
	}
	if !ok {
		t.Fatalf("%s: code %d (%q), want one of %v", what, coded.Code, coded.Msg, codes)
	}
	if coded.Msg == "" || len(coded.Msg) > 200 {
		t.Fatalf("%s: status_msg %q, want a short non-empty message", what, coded.Msg)
	}
	for _, leak := range []string{"strconv", "reflect", "runtime", "validator", "Key: '", ".go:"} {
		if strings.Contains(coded.Msg, leak) {
			t.Fatalf("%s: status_msg %q leaks %q", what, coded.Msg, leak)
		}
	}
}

// FuzzBind sends an arbitrary query string and body, under one of several
// content types, to bind with every request struct: it must never panic,
// refuse only with invalid-parameter or too-large, and whatever it accepts
// must satisfy the struct's rules.
func FuzzBind(f *testing.F) {
	gin.SetMode(gin.TestMode)
	seeds := []struct {
		query string
		kind  uint8
		body  []byte
	}{
		{"", 0, nil},
		{"video_id=1&action_type=1&token=x", 0, nil},
		{"user_id=-1", 0, nil},
		{"user_id=9223372036854775808", 0, nil},
		{"to_user_id=0x10&action_type=1", 0, nil},
		{"video_id=1e3&action_type=1", 0, nil},
		{"latest_time=%zz", 0, nil},
		{"action_type=3&video_id=2", 1, []byte("video_id=3")},
		{"", 1, []byte("username=alice&password=secret1")},
		{"", 1, []byte("username=&password=")},
		{"", 1, []byte("to_user_id=2&action_type=1&content=hi&pre_msg_time=-5")},
		{"", 1, []byte("video_id=%ff%fe&action_type=+1")},
		{"", 1, bytes.Repeat([]byte("a=b&"), fuzzBodyLimit)},
		{"video_id=1", 2, multipartSeed("action_type", "2", "comment_id", "7", "video_id", "1")},
		{"", 2, multipartSeed("username", "bob", "password", "hunter22")},
		{"", 2, []byte("--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"data\"; filename=\"v.mp4\"\r\n\r\nxxxx\r\n--" + fuzzBoundary + "--\r\n")},
		{"", 2, []byte("--" + fuzzBoundary + "\r\n")},
		{"", 3, []byte(`{"video_id":1,"action_type":1}`)},
		{"", 4, []byte("video_id=1")},
		{"", 5, []byte("--x\r\n")},
	}
	for _, s := range seeds {
		for i := range boundRequests() {
			f.Add(uint8(i), s.query, s.kind, s.body)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, query string, kind uint8, body []byte) {
		reqs := boundRequests()
		br := reqs[int(which)%len(reqs)]
		method := http.MethodGet
		if len(body) > 0 {
			method = http.MethodPost
		}
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		r, err := http.NewRequest(method, "/douyin/x/", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		// Set after NewRequest, which refuses some raw queries a client
		// may still send on the wire.
		r.URL.RawQuery = query
		if ct := bodyKinds[int(kind)%len(bodyKinds)]; ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		r.Body = http.MaxBytesReader(w, r.Body, fuzzBodyLimit)
		c.Request = r
		req := br.new()
		what := fmt.Sprintf("bind(%s, query %q, %s body %q)", br.name, query, r.Header.Get("Content-Type"), body)
		if err := bind(c, req); err != nil {
			checkCoded(t, what, err, errcode.InvalidParam.Code, errcode.TooLarge.Code)
			return
		}
		if err := br.valid(req); err != nil {
			t.Fatalf("%s accepted %+v: %v", what, req, err)
		}
	})
}

// FuzzUploadForm streams an arbitrary body through the publish form
// reader: it must never panic, refuse only with invalid-parameter or
// too-large, keep every field within its bound, and keep the spooled file
// within the size limit.
type refuseTokens struct{}

func (refuseTokens) Verify(string) (int64, error) { return 0, errors.New("refused") }

func FuzzUploadForm(f *testing.F) {
	gin.SetMode(gin.TestMode)
	dir := f.TempDir()
	// Only the form reader runs: no service, and every token is refused.
	h := &Video{limits: UploadLimits{MaxBytes: 64, Timeout: time.Second, Concurrent: 1, TempDir: dir},
		auth: middleware.NewAuth(refuseTokens{}, zap.NewNop()), anon: &byteBudget{left: 1 << 20}, log: zap.NewNop()}
	file := func(name, fileName, content string) string {
		return "--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"; filename=\"" + fileName +
			"\"\r\nContent-Type: video/mp4\r\n\r\n" + content + "\r\n"
	}
	end := "--" + fuzzBoundary + "--\r\n"
	for _, s := range []struct {
		kind uint8
		body string
	}{
		{2, string(multipartSeed("token", "t", "title", "hello"))},
		{2, file("data", "v.mp4", "\x00\x00\x00\x18ftypmp42") + string(multipartSeed("title", "x"))},
		{2, file("data", "v.mp4", strings.Repeat("v", 65)) + end},
		{2, file("data", "v.mp4", "a") + file("data", "w.mp4", "b") + end},
		{2, file("other", "o.bin", "zzz") + end},
		{2, string(multipartSeed("title", strings.Repeat("t", maxFieldBytes+1)))},
		{2, "--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"data\"; filename=\"v\"\r\n\r\nnever ends"},
		{2, "garbage"},
		{1, "title=x&token=y"},
		{5, "--x\r\n"},
		{0, ""},
	} {
		f.Add(s.kind, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		r := httptest.NewRequest(http.MethodPost, "/douyin/publish/action/", bytes.NewReader(body))
		if ct := bodyKinds[int(kind)%len(bodyKinds)]; ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		c.Request = r
		u := h.newUpload(c)
		err := u.receive()
		form := u.form
		if form.path != "" {
			st, serr := os.Stat(form.path)
			if serr != nil {
				t.Fatalf("spooled file: %v", serr)
			}
			if st.Size() > h.limits.MaxBytes+1 {
				t.Fatalf("spooled %d bytes, limit %d", st.Size(), h.limits.MaxBytes)
			}
			if filepath.Dir(form.path) != dir {
				t.Fatalf("spooled to %s, want under %s", form.path, dir)
			}
			if err := os.Remove(form.path); err != nil {
				t.Fatal(err)
			}
		}
		if err != nil {
			checkCoded(t, fmt.Sprintf("receive(%q)", body), err, errcode.InvalidParam.Code, errcode.TooLarge.Code, errcode.BadToken.Code)
			u.finish()
			if h.anon.left != 1<<20 {
				t.Fatalf("anonymous budget %d after finish, want all of it back", h.anon.left)
			}
			return
		}
		kept := 0
		for name, v := range form.fields {
			if len(v) > maxFieldBytes {
				t.Fatalf("field %s kept %d bytes, bound %d", name, len(v), maxFieldBytes)
			}
			kept += len(v)
		}
		if len(form.fields) > maxFormFields || kept > maxFormBytes {
			t.Fatalf("kept %d fields of %d bytes, bound %d fields of %d", len(form.fields), kept, maxFormFields, maxFormBytes)
		}
		if h.anon.left != 1<<20-u.anon {
			t.Fatalf("anonymous budget %d after taking %d, want %d", h.anon.left, u.anon, 1<<20-u.anon)
		}
		u.finish()
		if h.anon.left != 1<<20 {
			t.Fatalf("anonymous budget %d after finish, want all of it back", h.anon.left)
		}
		if form.path != "" && form.size > h.limits.MaxBytes {
			t.Fatalf("accepted a %d-byte video, limit %d", form.size, h.limits.MaxBytes)
		}
	})
}
