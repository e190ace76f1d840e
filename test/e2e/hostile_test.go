package e2e

import (
	"bytes"
	"database/sql"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-lite/server/test/testenv"
)

// The tests here play a hostile or careless client against the real
// binary: floods of form fields, uploads that trickle, look-alike names,
// files that only look like videos, ids that mean nothing.

// part is one part of a multipart body, in the order it is sent.
type part struct {
	name, file string // file "" for a text field
	data       []byte
}

func field(name, value string) part          { return part{name: name, data: []byte(value)} }
func filePart(name string, data []byte) part { return part{name: name, file: "clip.mp4", data: data} }

// multipartBody writes parts in order and returns the body and its type.
func multipartBody(t *testing.T, parts ...part) ([]byte, string) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for _, p := range parts {
		var pw io.Writer
		var err error
		if p.file != "" {
			pw, err = w.CreateFormFile(p.name, p.file)
		} else {
			pw, err = w.CreateFormField(p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write(p.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return body.Bytes(), w.FormDataContentType()
}

// publishParts posts parts to publish, with query added to the URL.
func (s *server) publishParts(t *testing.T, query url.Values, parts ...part) reply {
	t.Helper()
	body, ct := multipartBody(t, parts...)
	resp, err := http.Post(s.base+"/douyin/publish/action/?"+query.Encode(), ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)
}

// procKB reads a field of /proc/PID/status, in kB.
func procKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", field, line)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// fieldFlood is a multipart body of n text fields of size bytes each,
// made as it is read, so the test holds none of it.
type fieldFlood struct {
	boundary string
	n, size  int
	sent     int
	buf      bytes.Buffer
}

func (f *fieldFlood) Read(p []byte) (int, error) {
	for f.buf.Len() < len(p) && f.sent <= f.n {
		if f.sent == f.n {
			fmt.Fprintf(&f.buf, "--%s--\r\n", f.boundary)
		} else {
			fmt.Fprintf(&f.buf, "--%s\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\n", f.boundary, f.sent)
			f.buf.Write(bytes.Repeat([]byte{'x'}, f.size))
			f.buf.WriteString("\r\n")
		}
		f.sent++
	}
	if f.buf.Len() == 0 {
		return 0, io.EOF
	}
	return f.buf.Read(p)
}

// A request without a token costs no upload slot and no memory beyond a
// small bound, however many fields it sends; trickling uploads without a
// token hold no slot and are cut at the short request deadline.
func TestTokenlessUploadsHoldNothing(t *testing.T) {
	s := start(t, "", "TIKTOK_SERVER_MAX_CONCURRENT_UPLOADS=2", "TIKTOK_SERVER_REQUEST_TIMEOUT=3s")
	_, token := s.register(t, "author", "secret1")
	rssBefore := procKB(t, s.Pid(), "VmRSS")

	t.Run("field floods", func(t *testing.T) {
		const floods = 8
		var wg sync.WaitGroup
		codes := make([]string, floods)
		for i := range floods {
			wg.Go(func() {
				flood := &fieldFlood{boundary: "floodboundary", n: 12000, size: 8 << 10}
				resp, err := http.Post(s.base+"/douyin/publish/action/", "multipart/form-data; boundary=floodboundary", flood)
				if err != nil {
					codes[i] = "connection closed: " + err.Error()
					return
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				codes[i] = string(body)
				if resp.Close || resp.Header.Get("Connection") == "close" {
					codes[i] += " (closed)"
				}
			})
		}
		wg.Wait()
		for i, c := range codes {
			// 41301 once the form's bound is reached. On a busy machine the
			// 3 s read deadline may cut the body first: that refusal is the
			// interrupted upload's 40001, just as cheap.
			refused := strings.Contains(c, `"status_code":41301`) ||
				strings.Contains(c, `"status_code":40001,"status_msg":"the upload was interrupted`)
			if !refused && !strings.HasPrefix(c, "connection closed") {
				t.Errorf("flood %d answered %s, want 41301 (or 40001 cut by the deadline)", i, c)
			}
			if !strings.Contains(c, "(closed)") && !strings.HasPrefix(c, "connection closed") {
				t.Errorf("flood %d: the server kept the connection open", i)
			}
		}
		grew := procKB(t, s.Pid(), "VmHWM") - rssBefore
		t.Logf("peak RSS %d kB above the %d kB before %d floods of 12,000 fields", grew, rssBefore, floods)
		if grew > 64<<10 {
			t.Errorf("the server's peak RSS grew by %d MiB under %d tokenless floods, bound 64 MiB", grew>>10, floods)
		}
	})

	t.Run("trickles", func(t *testing.T) {
		var conns []net.Conn
		for range 8 {
			c, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			fmt.Fprintf(c, "POST /douyin/publish/action/ HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"data\"; filename=\"v.mp4\"\r\n\r\n")
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		cut := make([]time.Duration, len(conns))
		begin := time.Now()
		for i, c := range conns {
			wg.Go(func() {
				defer c.Close()
				tick := time.NewTicker(200 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					if _, err := c.Write([]byte{0}); err != nil {
						cut[i] = time.Since(begin)
						return
					}
				}
			})
		}
		time.Sleep(500 * time.Millisecond) // the trickles are in
		r := s.publishParts(t, url.Values{"token": {token}}, field("title", "while others trickle"), filePart("data", mediaSample()))
		wantCode(t, "a logged-in upload beside 8 tokenless trickles", r, 0)
		// Each trickle is cut by the 3s request deadline, not the upload's 10 minutes.
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			close(stop)
			<-done
			t.Errorf("tokenless trickles still open 15s in: %v", cut)
		}
		t.Logf("trickles cut after %v", cut)
	})
}

// A client that sends the file before its token is still served, within
// the budget of bytes such uploads may spool together.
func TestDataBeforeToken(t *testing.T) {
	sample := mediaSample()
	s := start(t, "")
	_, token := s.register(t, "author", "secret1")
	wantCode(t, "data, then token", s.publishParts(t, nil, filePart("data", sample), field("token", token), field("title", "late token")), 0)
	wantCode(t, "data, then a bad token", s.publishParts(t, nil, filePart("data", sample), field("token", "x.y.z"), field("title", "t")), 40102)

	small := start(t, "", "TIKTOK_UPLOAD_UNAUTHENTICATED_BYTES="+strconv.Itoa(len(sample)/2))
	_, token = small.register(t, "author", "secret1")
	wantCode(t, "data before the token, past the budget", small.publishParts(t, nil, filePart("data", sample), field("token", token), field("title", "t")), 42901)
	wantCode(t, "token field first", small.publishParts(t, nil, field("token", token), field("title", "t"), filePart("data", sample)), 0)
	wantCode(t, "token in the query", small.publishParts(t, url.Values{"token": {token}}, filePart("data", sample), field("title", "t")), 0)
	wantCode(t, "nine fields", small.publishParts(t, url.Values{"token": {token}}, field("a", "1"), field("b", "2"), field("c", "3"),
		field("d", "4"), field("e", "5"), field("f", "6"), field("g", "7"), field("h", "8"), field("title", "t"), filePart("data", sample)), 41301)
	if left := files(t, filepath.Join(small.dataDir, "tmp")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// Publishing goes through a per-user limit of its own, kept in Redis on
// the full stack.
func TestPublishRateLimit(t *testing.T) {
	for _, st := range []stack{embedded(), fullStack()} {
		t.Run(st.name, func(t *testing.T) {
			s := start(t, "", append(st.env(t), "TIKTOK_RATELIMIT_ENABLED=true", "TIKTOK_RATELIMIT_PUBLISH_PER_HOUR=3")...)
			id, token := s.register(t, "author", "secret1")
			for i := range 3 {
				wantCode(t, fmt.Sprintf("upload %d of 3", i+1), s.publishParts(t, url.Values{"token": {token}}, field("title", "t"), filePart("data", mediaSample())), 0)
			}
			wantCode(t, "a 4th upload within the hour", s.publishParts(t, url.Values{"token": {token}}, field("title", "t"), filePart("data", mediaSample())), 42901)
			wantCode(t, "token in the form, over the limit", s.publishParts(t, nil, field("token", token), field("title", "t"), filePart("data", mediaSample())), 42901)
			if n := s.get(t, "/douyin/user/", url.Values{"user_id": {itoa(id)}}).Obj("user").Int("work_count"); n != 3 {
				t.Errorf("work_count = %d, want 3", n)
			}
			_, other := s.register(t, "other", "secret1")
			wantCode(t, "another user", s.publishParts(t, url.Values{"token": {other}}, field("title", "t"), filePart("data", mediaSample())), 0)
		})
	}
}

// The per-user quota is exact under concurrent uploads.
func TestPublishQuota(t *testing.T) {
	for _, st := range []stack{embedded(), mysqlStack()} {
		t.Run(st.name, func(t *testing.T) {
			s := start(t, "", append(st.env(t), "TIKTOK_UPLOAD_QUOTA_VIDEOS=3")...)
			id, token := s.register(t, "author", "secret1")
			body, ct := multipartBody(t, field("title", "t"), filePart("data", mediaSample()))
			const tries = 8
			codes := make([]int64, tries)
			var wg sync.WaitGroup
			for i := range tries {
				wg.Go(func() {
					resp, err := http.Post(s.base+"/douyin/publish/action/?token="+token, ct, bytes.NewReader(body))
					if err != nil {
						codes[i] = -1
						return
					}
					codes[i] = decode(t, resp).Code()
				})
			}
			wg.Wait()
			accepted := 0
			for _, c := range codes {
				switch c {
				case 0:
					accepted++
				case 42901:
				default:
					t.Errorf("concurrent upload answered %d, want 0 or 42901", c)
				}
			}
			if accepted != 3 {
				t.Errorf("%d of %d concurrent uploads accepted with a quota of 3 (codes %v)", accepted, tries, codes)
			}
			if n := s.get(t, "/douyin/user/", url.Values{"user_id": {itoa(id)}}).Obj("user").Int("work_count"); n != 3 {
				t.Errorf("work_count = %d, want 3", n)
			}
			if left := files(t, filepath.Join(s.dataDir, "media", "videos")); len(left) != 3 {
				t.Errorf("%d stored videos, want 3: a refused upload left its file", len(left))
			}
			r := s.publishParts(t, url.Values{"token": {token}}, field("title", "t"), filePart("data", mediaSample()))
			wantCode(t, "over the quota", r, 42901)
			if !strings.Contains(r.Msg(), "3") {
				t.Errorf("quota message %q does not name the quota", r.Msg())
			}
		})
	}
	t.Run("bytes", func(t *testing.T) {
		size := len(mediaSample())
		s := start(t, "", "TIKTOK_UPLOAD_QUOTA_BYTES="+strconv.Itoa(size*3/2))
		_, token := s.register(t, "author", "secret1")
		wantCode(t, "first video", s.publishParts(t, url.Values{"token": {token}}, field("title", "t"), filePart("data", mediaSample())), 0)
		wantCode(t, "second video past the byte quota", s.publishParts(t, url.Values{"token": {token}}, field("title", "t"), filePart("data", mediaSample())), 42901)
	})
}

// Files whose first bytes pass for a video but that hold none are refused
// when ffmpeg is installed, and leave nothing behind.
func TestLookAlikeVideosRefused(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ffmpeg is missing; .ci/run installs it")
		}
		t.Skip("ffmpeg not installed: without it the server judges uploads by their first bytes alone")
	}
	s := start(t, "")
	id, token := s.register(t, "author", "secret1")
	html := []byte("<html><body><script>alert(1)</script></body></html>")
	for name, data := range map[string][]byte{
		"mdat then HTML": append([]byte("\x00\x00\x00\x08mdat"), html...),
		"ftyp then HTML": append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), html...),
		"MPEG-TS sync":   bytes.Repeat(append([]byte{0x47}, make([]byte, 187)...), 4),
		"AVI header":     append([]byte("RIFF\x00\x10\x00\x00AVI LIST"), html...),
		"FLV header":     append([]byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"), html...),
		"cut-off MP4":    mediaSample()[:2000],
	} {
		wantCode(t, name, s.publishParts(t, url.Values{"token": {token}}, field("title", "t"), filePart("data", data)), 41501)
	}
	if w := s.get(t, "/douyin/user/", url.Values{"user_id": {itoa(id)}}).Obj("user").Int("work_count"); w != 0 {
		t.Errorf("work_count = %d after refused uploads, want 0", w)
	}
	if left := files(t, filepath.Join(s.dataDir, "media")); len(left) != 0 {
		t.Errorf("stored files left behind: %v", left)
	}
	wantCode(t, "the real clip", s.publishParts(t, url.Values{"token": {token}}, field("title", "t"), filePart("data", mediaSample())), 0)
}

// A body over the limit is "too large", wherever its token is.
func TestTooLargeBodyWithTheTokenInside(t *testing.T) {
	s := start(t, "")
	_, token := s.register(t, "author", "secret1")
	big := "token=" + url.QueryEscape(token) + "&video_id=1&action_type=1&pad=" + strings.Repeat("x", 1100<<10)
	for _, route := range []string{"/douyin/favorite/action/", "/douyin/comment/action/", "/douyin/user/login/"} {
		resp, err := http.Post(s.base+route, "application/x-www-form-urlencoded", strings.NewReader(big))
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, route+" with the token in the body", decode(t, resp), 41301)
		req, err := http.NewRequest(http.MethodPost, s.base+route, strings.NewReader(big[len("token="+url.QueryEscape(token)):]))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, route+" with the token in the header", decode(t, resp), 41301)
	}
}

// A present user_id must name a user; only a missing one means "me".
func TestUserIDZeroIsNotMe(t *testing.T) {
	s := start(t, "")
	id, token := s.register(t, "author", "secret1")
	for _, v := range []string{"0", "-0", "+0", "00", "-1", ""} {
		wantCode(t, "user_id="+v, s.get(t, "/douyin/user/", url.Values{"user_id": {v}, "token": {token}}), 40001)
	}
	me := s.get(t, "/douyin/user/", url.Values{"token": {token}})
	wantCode(t, "no user_id", me, 0)
	if got := me.Obj("user").Int("id"); got != id {
		t.Errorf("no user_id shows user %d, want the viewer %d", got, id)
	}
}

// Metrics are served on their own listener, never on the API port.
func TestMetricsHaveTheirOwnListener(t *testing.T) {
	s := start(t, "")
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on the API port: HTTP %d, want 404", resp.StatusCode)
	}
	if s.Metrics == "" {
		t.Fatal("the server logged no metrics listener")
	}
	resp, err = http.Get(s.Metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("tiktok_http_requests_total")) {
		t.Errorf("metrics listener: HTTP %d, %d bytes without tiktok_http_requests_total", resp.StatusCode, len(body))
	}
}

// /readyz asks the database for its schema, not merely for an answer.
func TestReadinessSeesADroppedSchema(t *testing.T) {
	dsn := testenv.MySQLDatabase(t)
	s := start(t, "", "TIKTOK_DATABASE_DRIVER=mysql", "TIKTOK_DATABASE_DSN="+dsn, "TIKTOK_JWT_SECRET="+strings.Repeat("e2e-secret-", 4))
	if code := readyzStatus(t, s); code != 200 {
		t.Fatalf("/readyz: HTTP %d before anything was dropped", code)
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DROP TABLE videos"); err != nil {
		t.Fatal(err)
	}
	if code := readyzStatus(t, s); code != 503 {
		t.Errorf("/readyz: HTTP %d with the videos table dropped, want 503", code)
	}
}

func readyzStatus(t *testing.T, s *server) int {
	t.Helper()
	resp, err := http.Get(s.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A full spool disk is the server's fault: 5xxxx, with a log line that
// names the directory.
func TestFullSpoolDisk(t *testing.T) {
	dataDir := t.TempDir()
	spool := filepath.Join(dataDir, "tmp")
	if err := os.MkdirAll(spool, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", spool).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", spool).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", spool, err, out)
		}
	})
	s := start(t, dataDir, "TIKTOK_UPLOAD_MAX_BYTES=8000000")
	_, token := s.register(t, "author", "secret1")
	big := append(mediaSample(), make([]byte, 2<<20)...) // larger than the disk
	r := s.publishParts(t, url.Values{"token": {token}}, field("title", "t"), filePart("data", big))
	wantCode(t, "upload to a full spool", r, 50001)
	found := false
	// The line is written before the answer, but read from the server's
	// pipe by another goroutine: give it a moment.
	for deadline := time.Now().Add(5 * time.Second); !found && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, e := range s.logs.Entries() {
			if e["level"] == "error" && e["dir"] == spool {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no error line naming %s in the log:\n%s", spool, s.logs)
	}
	wantCode(t, "a small upload after it", s.publishParts(t, url.Values{"token": {token}}, field("title", "t"), filePart("data", mediaSample())), 0)
}

// Names that look the same are one name, and every text must show
// something; the same on every stack.
func TestLookAlikeNames(t *testing.T) {
	for _, st := range stacks() {
		t.Run(st.name, func(t *testing.T) {
			s := start(t, "", st.env(t)...)
			aliceID, token := s.register(t, "alice", "secret1")
			s.register(t, "café", "secret1")
			for _, tt := range []struct {
				name string
				code int64
			}{
				{"alice\u200b", 40001}, {"ali\u200dce", 40001}, {"\u2060alice", 40001}, {"alice\ufeff", 40001},
				{"al\u00adice", 40001}, {"\u202ealice", 40001}, {"ali\u2028ce", 40001}, {"alice\u2028", 40901}, {"\u3164\u3164", 40001},
				{"\u200b\u200b", 40001}, {"cafe\u0301", 40901}, {"ａｌｉｃｅ", 40901}, {"Alice", 0},
			} {
				r := s.post(t, "/douyin/user/register/", url.Values{"username": {tt.name}, "password": {"secret1"}})
				wantCode(t, fmt.Sprintf("register %q", tt.name), r, tt.code)
			}
			v := s.publishParts(t, url.Values{"token": {token}}, field("title", "clip"), filePart("data", mediaSample()))
			wantCode(t, "publish", v, 0)
			videoID := s.get(t, "/douyin/publish/list/", url.Values{"user_id": {itoa(aliceID)}}).List("video_list")
			if len(videoID) == 0 {
				t.Fatal("no video listed")
			}
			vid := itoa(videoID[0].Int("id"))
			wantCode(t, "an invisible comment", s.post(t, "/douyin/comment/action/",
				url.Values{"token": {token}, "video_id": {vid}, "action_type": {"1"}, "comment_text": {"\u200b\u200b"}}), 40001)
			wantCode(t, "an invisible title", s.publishParts(t, url.Values{"token": {token}}, field("title", "\u200b"), filePart("data", mediaSample())), 40001)
		})
	}
}
