//go:build scaleout

package scaleout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/tiktok-lite/server/pkg/media"
	"github.com/tiktok-lite/server/test/testenv"
)

// client speaks the API to one base URL (nginx or one instance).
type client struct {
	base string
	http *http.Client
}

func newClient(base string) *client {
	return &client{base: base, http: &http.Client{Timeout: 10 * time.Second}}
}

// call sends one request and decodes its answer; err is a transport
// error, a non-200 status or an answer that is not JSON.
func (c *client) call(method, path string, params url.Values) (testenv.Reply, error) {
	var req *http.Request
	var err error
	if method == http.MethodGet {
		req, err = http.NewRequest(method, c.base+path+"?"+params.Encode(), nil)
	} else {
		req, err = http.NewRequest(method, c.base+path, bytes.NewBufferString(params.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return nil, err
	}
	return c.do(req)
}

func (c *client) do(req *http.Request) (testenv.Reply, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
	}
	var r testenv.Reply
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("not JSON: %.200s", body)
	}
	return r, nil
}

// must is call for a request that has to answer status_code 0.
func (c *client) must(t *testing.T, method, path string, params url.Values) testenv.Reply {
	t.Helper()
	r, err := c.call(method, path, params)
	if err != nil {
		t.Fatalf("%s %s through %s: %v", method, path, c.base, err)
	}
	if r.Code() != 0 {
		t.Fatalf("%s %s through %s: %d %s", method, path, c.base, r.Code(), r.Msg())
	}
	return r
}

// register makes a user and returns its id and token.
func (c *client) register(t *testing.T, name string) (int64, string) {
	t.Helper()
	r := c.must(t, http.MethodPost, "/douyin/user/register/", url.Values{"username": {name}, "password": {"secret1"}})
	return r.Int("user_id"), r.Str("token")
}

// publish uploads the sample video and returns its id from the author's
// publish list.
func (c *client) publish(t *testing.T, token string, author int64, title string) int64 {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("token", token)
	_ = w.WriteField("title", title)
	fw, err := w.CreateFormFile("data", "clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(media.SampleVideo())
	w.Close()
	req, err := http.NewRequest(http.MethodPost, c.base+"/douyin/publish/action/", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	r, err := c.do(req)
	if err != nil || r.Code() != 0 {
		t.Fatalf("publish through %s: %v %v", c.base, err, r)
	}
	list := c.must(t, http.MethodGet, "/douyin/publish/list/", url.Values{"token": {token}, "user_id": {itoa(author)}}).List("video_list")
	if len(list) == 0 {
		t.Fatal("the new video is not in its author's list")
	}
	return list[0].Int("id")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
