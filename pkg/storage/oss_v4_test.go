package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// get reads rawURL with a plain client, as a phone would.
func get(t *testing.T, rawURL string, header map[string]string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body, resp.Header
}

func ossCode(t *testing.T, body []byte) string {
	t.Helper()
	var eb ossErrorBody
	if err := xml.Unmarshal(body, &eb); err != nil {
		t.Fatalf("not an OSS error: %s", body)
	}
	return eb.Code
}

// An old bucket that still accepts V1 keeps working with sign_version v1.
func TestOSSV1OnAnOldBucket(t *testing.T) {
	fake, srv := newFakeOSS(t)
	fake.acceptV1 = true
	o := mustOSS(t, OSSConfig{Endpoint: srv.URL, SignVersion: "v1", Bucket: testBucket, AccessKeyID: testAccessKeyID, AccessKeySecret: testAccessKeySecret})
	data := testData(300)
	if err := o.Put(context.Background(), "videos/v1.mp4", bytes.NewReader(data), int64(len(data)), "video/mp4"); err != nil {
		t.Fatalf("Put with V1: %v", err)
	}
	if err := o.Delete(context.Background(), "videos/v1.mp4"); err != nil {
		t.Fatalf("Delete with V1: %v", err)
	}
	if auth := fake.requests(); len(auth) != 2 {
		t.Fatalf("requests: %+v", auth)
	}
}

// TestFakeOSSChecksV4 shows the fake refuses what OSS refuses, with V4
// requests signed here (signV4 and canonicalRequestV4), not by the SDK.
func TestFakeOSSChecksV4(t *testing.T) {
	fake, srv := newFakeOSS(t)
	fake.mu.Lock()
	fake.objects["media/a.mp4"] = fakeObject{data: testData(1000), contentType: "video/mp4"}
	fake.mu.Unlock()
	const tempID, tempSecret, tempToken = "STS.tempKey", "temp-secret", "the-session-token"
	fake.addKey(tempID, tempSecret, tempToken)
	resource := srv.URL + "/" + testBucket + "/media/a.mp4"

	header := func(id, secret, region string, at time.Time, token string, tamper bool) *http.Request {
		req, err := http.NewRequest(http.MethodGet, resource, nil)
		if err != nil {
			t.Fatal(err)
		}
		date, day := at.UTC().Format("20060102T150405Z"), at.UTC().Format("20060102")
		req.Header.Set("x-oss-date", date)
		req.Header.Set("x-oss-content-sha256", "UNSIGNED-PAYLOAD")
		if token != "" {
			req.Header.Set("x-oss-security-token", token)
		}
		sig := signV4(secret, day, region, date, canonicalRequestV4(req, testBucket, "media/a.mp4", "", false))
		req.Header.Set("Authorization", "OSS4-HMAC-SHA256 Credential="+id+"/"+day+"/"+region+"/oss/aliyun_v4_request,Signature="+sig)
		if tamper {
			req.Header.Set("x-oss-date", at.Add(time.Second).UTC().Format("20060102T150405Z"))
		}
		return req
	}
	presign := func(secret string, at time.Time, expires int) string {
		q := url.Values{}
		date, day := at.UTC().Format("20060102T150405Z"), at.UTC().Format("20060102")
		q.Set("x-oss-signature-version", "OSS4-HMAC-SHA256")
		q.Set("x-oss-credential", testAccessKeyID+"/"+day+"/"+testRegion+"/oss/aliyun_v4_request")
		q.Set("x-oss-date", date)
		q.Set("x-oss-expires", fmt.Sprint(expires))
		req, err := http.NewRequest(http.MethodGet, resource+"?"+q.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		q.Set("x-oss-signature", signV4(secret, day, testRegion, date, canonicalRequestV4(req, testBucket, "media/a.mp4", "", true)))
		return resource + "?" + q.Encode()
	}
	now := time.Now()
	for _, tt := range []struct {
		name string
		req  *http.Request
		url  string
		want string // "" for 200
	}{
		{"valid header", header(testAccessKeyID, testAccessKeySecret, testRegion, now, "", false), "", ""},
		{"wrong secret", header(testAccessKeyID, "other", testRegion, now, "", false), "", "SignatureDoesNotMatch"},
		{"wrong region", header(testAccessKeyID, testAccessKeySecret, "cn-elsewhere", now, "", false), "", "SignatureDoesNotMatch"},
		{"header changed after signing", header(testAccessKeyID, testAccessKeySecret, testRegion, now, "", true), "", "SignatureDoesNotMatch"},
		{"old date", header(testAccessKeyID, testAccessKeySecret, testRegion, now.Add(-time.Hour), "", false), "", "RequestTimeTooSkewed"},
		{"temporary key with its token", header(tempID, tempSecret, testRegion, now, tempToken, false), "", ""},
		{"temporary key without its token", header(tempID, tempSecret, testRegion, now, "", false), "", "InvalidSecurityToken"},
		{"valid presigned URL", nil, presign(testAccessKeySecret, now, 600), ""},
		{"expired presigned URL", nil, presign(testAccessKeySecret, now.Add(-2*time.Hour), 3600), "AccessDenied"},
		{"presigned past 7 days", nil, presign(testAccessKeySecret, now, 8*24*3600), "AccessDenied"},
		{"presigned with the wrong secret", nil, presign("other", now, 600), "SignatureDoesNotMatch"},
		{"no signature at all", nil, resource, "AccessDenied"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if req == nil {
				var err error
				if req, err = http.NewRequest(http.MethodGet, tt.url, nil); err != nil {
					t.Fatal(err)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tt.want == "" {
				if resp.StatusCode != 200 {
					t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != http.StatusForbidden || ossCode(t, body) != tt.want {
				t.Fatalf("HTTP %d %s, want 403 %s", resp.StatusCode, body, tt.want)
			}
		})
	}
}

// On a private bucket every play_url and cover_url is a V4 presigned URL
// that a plain client can read, Range included; the same object keeps the
// same URL within a window, and the URL changes with the window.
func TestOSSSignedURLs(t *testing.T) {
	fake, srv := newFakeOSS(t)
	o := mustOSS(t, OSSConfig{Endpoint: srv.URL, Region: testRegion, Bucket: testBucket, AccessKeyID: testAccessKeyID,
		AccessKeySecret: testAccessKeySecret, Prefix: "media", URLMode: "signed", URLLifetime: time.Hour})
	data := testData(5000)
	const key = "videos/2026/12/01/signed.mp4"
	if err := o.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), "video/mp4"); err != nil {
		t.Fatal(err)
	}
	if got, _ := fake.object("media/" + key); got.disposition != "inline" || got.contentType != "video/mp4" {
		t.Errorf("stored with Content-Type %q and Content-Disposition %q, want video/mp4 and inline", got.contentType, got.disposition)
	}
	clock := time.Now()
	o.signed.now = func() time.Time { return clock }
	signings := 0
	sign := o.signed.sign
	o.signed.sign = func(name string, expiresIn int64) (string, error) { signings++; return sign(name, expiresIn) }
	u := o.URL(key)
	if !strings.Contains(u, "x-oss-signature=") || !strings.Contains(u, "x-oss-signature-version=OSS4-HMAC-SHA256") {
		t.Fatalf("URL %s is not V4-presigned", u)
	}
	status, body, h := get(t, u, map[string]string{"Range": "bytes=100-199"})
	if status != http.StatusPartialContent || !bytes.Equal(body, data[100:200]) {
		t.Fatalf("ranged GET of the signed URL: HTTP %d, %d bytes", status, len(body))
	}
	if h.Get("Content-Disposition") != "inline" {
		t.Errorf("Content-Disposition %q, want inline", h.Get("Content-Disposition"))
	}
	if status, body, _ := get(t, u, nil); status != 200 || !bytes.Equal(body, data) {
		t.Fatalf("GET of the signed URL: HTTP %d, %d bytes", status, len(body))
	}
	public := srv.URL + "/" + testBucket + "/media/" + key
	if status, body, _ := get(t, public, nil); status != http.StatusForbidden {
		t.Fatalf("the unsigned URL of a private object: HTTP %d %s, want 403", status, body)
	}

	clock = clock.Add(time.Second)
	if again := o.URL(key); again != u || signings != 1 {
		t.Errorf("a second later the URL changed or was signed again (%d signings):\n%s\n%s", signings, u, again)
	}
	q, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	signedAt, err := time.Parse("20060102T150405Z", q.Query().Get("x-oss-date"))
	if err != nil {
		t.Fatal(err)
	}
	var expires time.Duration
	if _, err := fmt.Sscan(q.Query().Get("x-oss-expires"), &expires); err != nil {
		t.Fatal(err)
	}
	validUntil := signedAt.Add(expires * time.Second)
	if left := validUntil.Sub(clock); left < 45*time.Minute || left > time.Hour {
		t.Errorf("a URL handed out now is valid for %v more, want between 3/4 of the 1h lifetime and all of it", left)
	}
	clock = clock.Add(16 * time.Minute) // past the 15-minute window
	if next := o.URL(key); next == u {
		t.Error("the URL stayed the same into the next window")
	}
}

// Credentials from the standard environment variables, a session token
// included, sign both requests and URLs.
func TestOSSCredentialsFromTheEnvironment(t *testing.T) {
	fake, srv := newFakeOSS(t)
	const id, secret, token = "STS.fromEnv", "env-secret", "env-session-token"
	fake.addKey(id, secret, token)
	t.Setenv("OSS_ACCESS_KEY_ID", id)
	t.Setenv("OSS_ACCESS_KEY_SECRET", secret)
	t.Setenv("OSS_SESSION_TOKEN", token)
	p, err := OSSCredentials("env", "")
	if err != nil {
		t.Fatal(err)
	}
	o := mustOSS(t, OSSConfig{Endpoint: srv.URL, Region: testRegion, Bucket: testBucket, Provider: p, URLMode: "signed", URLLifetime: time.Hour})
	data := testData(200)
	if err := o.Put(context.Background(), "videos/env.mp4", bytes.NewReader(data), int64(len(data)), "video/mp4"); err != nil {
		t.Fatalf("Put with credentials from the environment: %v", err)
	}
	if status, body, _ := get(t, o.URL("videos/env.mp4"), nil); status != 200 || !bytes.Equal(body, data) {
		t.Fatalf("signed URL with a session token: HTTP %d %s", status, body)
	}
	fake.addKey(id, secret, "rotated")
	err = o.Put(context.Background(), "videos/env2.mp4", bytes.NewReader(data), int64(len(data)), "video/mp4")
	var se oss.ServiceError
	if !errors.As(err, &se) || se.Code != "InvalidSecurityToken" {
		t.Fatalf("Put with a stale token: %v, want InvalidSecurityToken", err)
	}
	t.Setenv("OSS_ACCESS_KEY_ID", "")
	if _, err := OSSCredentials("env", ""); err == nil {
		t.Fatal("OSSCredentials(env) with no OSS_ACCESS_KEY_ID: want an error")
	}
}

// fakeMetadata is the ECS metadata service, reached as an HTTP proxy: every
// credentials request gets fresh keys that expire soon, so that the
// provider must refresh them.
type fakeMetadata struct {
	t     *testing.T
	oss   *fakeOSS
	role  string
	ttl   time.Duration
	mu    sync.Mutex
	issue int
}

func (m *fakeMetadata) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Host != "100.100.100.200" {
		http.Error(w, "not the metadata service", http.StatusBadGateway)
		return
	}
	switch {
	case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
		fmt.Fprint(w, "imds-token")
	case r.URL.Path == "/latest/meta-data/ram/security-credentials/":
		fmt.Fprint(w, m.role)
	case r.URL.Path == "/latest/meta-data/ram/security-credentials/"+m.role:
		if r.Header.Get("x-aliyun-ecs-metadata-token") != "imds-token" {
			http.Error(w, "no metadata token", http.StatusUnauthorized)
			return
		}
		m.mu.Lock()
		m.issue++
		id, secret, token := fmt.Sprintf("STS.role%d", m.issue), fmt.Sprintf("secret%d", m.issue), fmt.Sprintf("token%d", m.issue)
		m.oss.addKey(id, secret, token)
		m.mu.Unlock()
		code := "Success"
		exp := time.Now().Add(m.ttl).UTC().Format("2006-01-02T15:04:05Z")
		if err := json.NewEncoder(w).Encode(map[string]*string{"Code": &code, "AccessKeyId": &id, "AccessKeySecret": &secret,
			"SecurityToken": &token, "Expiration": &exp}); err != nil {
			m.t.Errorf("encode: %v", err)
		}
	default:
		http.NotFound(w, r)
	}
}

// An ECS RAM role's keys come from the metadata service and are refreshed
// before they expire; requests and signed URLs always carry the newest.
func TestOSSCredentialsFromAnECSRAMRole(t *testing.T) {
	fake, srv := newFakeOSS(t)
	fake.oneUse = true // each key expires after one request: only a refresh gets past the second
	// 170 s to live: within the provider's 3-minute margin, so every use
	// fetches new keys, as a long-running server would every few hours.
	meta := httptest.NewServer(&fakeMetadata{t: t, oss: fake, role: "tiktok-media", ttl: 170 * time.Second})
	t.Cleanup(meta.Close)
	p, err := ramRoleProvider("", meta.URL)
	if err != nil {
		t.Fatal(err)
	}
	o := mustOSS(t, OSSConfig{Endpoint: srv.URL, Region: testRegion, Bucket: testBucket, Provider: p, URLMode: "signed", URLLifetime: time.Hour})
	data := testData(300)
	for i := range 3 {
		key := fmt.Sprintf("videos/role%d.mp4", i)
		if err := o.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), "video/mp4"); err != nil {
			t.Fatalf("Put %d with the role's keys: %v", i, err)
		}
	}
	// The signed URL was signed with keys that have been replaced since;
	// a new window signs with the current ones.
	o.signed.now = func() time.Time { return time.Now().Add(time.Hour) }
	if status, body, _ := get(t, o.URL("videos/role2.mp4"), nil); status != 200 {
		t.Fatalf("signed URL with the role's keys: HTTP %d %s", status, body)
	}
	for _, r := range fake.requests() {
		if r.status != 200 {
			t.Errorf("request %+v refused", r)
		}
	}
}

// The web client's CSP names the origin media come from.
func TestOSSOrigin(t *testing.T) {
	for _, tt := range []struct {
		cfg  OSSConfig
		want string
	}{
		{OSSConfig{Endpoint: "oss-cn-hangzhou.aliyuncs.com"}, "https://bkt.oss-cn-hangzhou.aliyuncs.com"},
		{OSSConfig{Endpoint: "oss-cn-hangzhou.aliyuncs.com", PublicURL: "https://cdn.example.com/app"}, "https://cdn.example.com"},
		{OSSConfig{Endpoint: "http://oss-cn-hangzhou.aliyuncs.com", URLMode: "signed", URLLifetime: time.Hour}, "http://bkt.oss-cn-hangzhou.aliyuncs.com"},
		{OSSConfig{Endpoint: "http://127.0.0.1:9000", URLMode: "signed", URLLifetime: time.Hour}, "http://127.0.0.1:9000"},
	} {
		tt.cfg.Region, tt.cfg.Bucket, tt.cfg.AccessKeyID, tt.cfg.AccessKeySecret = "cn-hangzhou", "bkt", "id", "secret"
		if got := mustOSS(t, tt.cfg).Origin(); got != tt.want {
			t.Errorf("Origin of %+v = %q, want %q", tt.cfg, got, tt.want)
		}
		if tt.cfg.URLMode == "signed" {
			u, err := url.Parse(mustOSS(t, tt.cfg).URL("videos/a.mp4"))
			if err != nil || u.Scheme+"://"+u.Host != tt.want {
				t.Errorf("a signed URL %v is not on the origin %s", u, tt.want)
			}
		}
	}
}

// What a transfer does with media, between a local directory and a
// private V4 bucket, both ways: Open on one side, Put on the other, and
// the bytes, types and dispositions arrive whole.
func TestOSSAndLocalCopyEachOther(t *testing.T) {
	fake, srv := newFakeOSS(t)
	o := mustOSS(t, OSSConfig{Endpoint: srv.URL, Region: testRegion, Bucket: testBucket, AccessKeyID: testAccessKeyID,
		AccessKeySecret: testAccessKeySecret, Prefix: "media", URLMode: "signed", URLLifetime: time.Hour})
	local, err := NewLocal(t.TempDir(), "http://localhost:8080")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := testData(70_000)
	const key = "videos/2026/12/01/moved.mp4"
	if err := local.Put(ctx, key, bytes.NewReader(data), int64(len(data)), "video/mp4"); err != nil {
		t.Fatal(err)
	}
	copyOne := func(from interface {
		Open(context.Context, string) (io.ReadCloser, int64, error)
	}, to interface {
		Put(context.Context, string, io.Reader, int64, string) error
	}) {
		t.Helper()
		r, size, err := from.Open(ctx, key)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer r.Close()
		if err := to.Put(ctx, key, r, size, ""); err != nil {
			t.Fatalf("put: %v", err)
		}
	}
	copyOne(local, o)
	got, ok := fake.object("media/" + key)
	if !ok || !bytes.Equal(got.data, data) || got.contentType != "video/mp4" || got.disposition != "inline" {
		t.Fatalf("in the bucket: %v, %d bytes, %q, %q", ok, len(got.data), got.contentType, got.disposition)
	}
	back, err := NewLocal(t.TempDir(), "http://localhost:8080")
	if err != nil {
		t.Fatal(err)
	}
	copyOne(o, back)
	r, _, err := back.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if b, err := io.ReadAll(r); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("back from the bucket: %d bytes, %v", len(b), err)
	}
	if _, _, err := o.Open(ctx, "videos/missing.mp4"); err == nil {
		t.Fatal("Open of a missing object succeeded")
	}
}
