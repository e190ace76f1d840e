package storage

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

const (
	testAccessKeyID     = "LTAI5tTestKeyID0001"
	testAccessKeySecret = "t3st-s3cret-K3y-for-the-fake-oss"
	testBucket          = "tiktok-media-test"
	// testEndpointHost is an OSS-like host name for the virtual-host case;
	// a custom dialer sends its connections to the fake server.
	testEndpointHost = "oss-cn-test.aliyuncs.com"
	testRegion       = "cn-test"
	maxDateSkew      = 15 * time.Minute
)

// fakeOSS is a small in-memory OSS that checks each request the way the
// service does: bucket resolution (virtual host or path style); the V4
// signature (OSS4-HMAC-SHA256: the canonical request over the verb, the
// resource, the query, Content-MD5, Content-Type, the x-oss-* headers and
// the payload hash; the scope of date, region and product), in the
// Authorization header or in the query of a presigned URL with its expiry;
// the V1 signature where the bucket still accepts it; the date skew; the
// session token of temporary credentials; Content-Length and Content-MD5
// on uploads; Range on reads. It answers with OSS-style XML errors.
type fakeOSS struct {
	listenHost   string // host:port of the server, used for path style
	endpointHost string // endpoint host, used for virtual-host style
	bucket       string
	region       string
	acceptV1     bool              // an old bucket; new ones take V4 only
	secrets      map[string]string // access key id → secret
	tokens       map[string]string // access key id → its session token, for temporary keys
	oneUse       bool              // a key is good for one request: it expires right after

	mu      sync.Mutex
	objects map[string]fakeObject
	seen    []seenRequest
	nextID  int
}

type fakeObject struct {
	disposition string
	data        []byte
	contentType string
}

type seenRequest struct {
	method, host, path, style, object string
	contentMD5                        string
	status                            int
}

type ossErrorBody struct {
	XMLName        xml.Name `xml:"Error"`
	Code           string   `xml:"Code"`
	Message        string   `xml:"Message"`
	RequestID      string   `xml:"RequestId"`
	HostID         string   `xml:"HostId"`
	OSSAccessKeyID string   `xml:"OSSAccessKeyId,omitempty"`
	StringToSign   string   `xml:"StringToSign,omitempty"`
}

func newFakeOSS(t *testing.T) (*fakeOSS, *httptest.Server) {
	t.Helper()
	f := &fakeOSS{
		endpointHost: testEndpointHost,
		bucket:       testBucket,
		region:       testRegion,
		secrets:      map[string]string{testAccessKeyID: testAccessKeySecret},
		tokens:       map[string]string{},
		objects:      map[string]fakeObject{},
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.listenHost = srv.Listener.Addr().String()
	return f, srv
}

// addKey makes id a known access key, with the session token it needs
// ("" for a permanent key).
func (f *fakeOSS) addKey(id, secret, token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[id], f.tokens[id] = secret, token
}

// key looks an access key up.
func (f *fakeOSS) key(id string) (secret, token string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	secret, ok = f.secrets[id]
	return secret, f.tokens[id], ok
}

func (f *fakeOSS) object(name string) (fakeObject, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[name]
	return o, ok
}

func (f *fakeOSS) objectNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.objects))
	for n := range f.objects {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (f *fakeOSS) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.seen...)
}

// signV1 computes the OSS V1 signature from the documented string to sign.
func signV1(secret, stringToSign string) string {
	h := hmac.New(sha1.New, []byte(secret))
	h.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// stringToSignV1 is VERB \n Content-MD5 \n Content-Type \n Date \n
// CanonicalizedOSSHeaders + CanonicalizedResource.
func stringToSignV1(r *http.Request, resource string) string {
	var names []string
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-oss-") {
			names = append(names, k)
		}
	}
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	var canon strings.Builder
	for _, k := range names {
		canon.WriteString(strings.ToLower(k) + ":" + strings.TrimSpace(r.Header.Get(k)) + "\n")
	}
	return r.Method + "\n" +
		r.Header.Get("Content-MD5") + "\n" +
		r.Header.Get("Content-Type") + "\n" +
		r.Header.Get("Date") + "\n" +
		canon.String() + resource
}

func (f *fakeOSS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.nextID++
	reqID := fmt.Sprintf("5F3A%020d", f.nextID)
	f.mu.Unlock()
	w.Header().Set("x-oss-request-id", reqID)
	w.Header().Set("Server", "AliyunOSS")

	seen := seenRequest{method: r.Method, host: r.Host, path: r.URL.Path, contentMD5: r.Header.Get("Content-MD5")}
	status := f.handle(w, r, reqID, &seen)
	seen.status = status
	f.mu.Lock()
	f.seen = append(f.seen, seen)
	f.mu.Unlock()
}

func (f *fakeOSS) fail(w http.ResponseWriter, status int, reqID, code, msg string, extra func(*ossErrorBody)) int {
	body := ossErrorBody{Code: code, Message: msg, RequestID: reqID, HostID: f.bucket + "." + f.endpointHost}
	if extra != nil {
		extra(&body)
	}
	out, err := xml.MarshalIndent(body, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if _, err := w.Write(append([]byte(xml.Header), out...)); err != nil {
		return status
	}
	return status
}

func (f *fakeOSS) handle(w http.ResponseWriter, r *http.Request, reqID string, seen *seenRequest) int {
	// Bucket resolution: <bucket>.<endpoint> with the object as the whole
	// path, or, for an IP endpoint, /<bucket>/<object>.
	var bucket, object string
	switch {
	case strings.HasSuffix(r.Host, "."+f.endpointHost):
		seen.style = "virtual-host"
		bucket = strings.TrimSuffix(r.Host, "."+f.endpointHost)
		object = strings.TrimPrefix(r.URL.Path, "/")
	case r.Host == f.listenHost:
		seen.style = "path"
		bucket, object, _ = strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	default:
		return f.fail(w, http.StatusBadRequest, reqID, "InvalidArgument", "unknown host "+r.Host, nil)
	}
	seen.object = object
	if bucket != f.bucket {
		return f.fail(w, http.StatusNotFound, reqID, "NoSuchBucket", "The specified bucket does not exist.", nil)
	}
	if object == "" {
		return f.fail(w, http.StatusBadRequest, reqID, "InvalidArgument", "only plain object requests are supported here", nil)
	}
	if code, msg := f.authenticate(r, bucket, object); code != "" {
		return f.fail(w, http.StatusForbidden, reqID, code, msg, nil)
	}

	switch r.Method {
	case http.MethodPut:
		return f.put(w, r, reqID, object)
	case http.MethodDelete:
		f.mu.Lock()
		delete(f.objects, object)
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	case http.MethodGet, http.MethodHead:
		o, found := f.object(object)
		if !found {
			return f.fail(w, http.StatusNotFound, reqID, "NoSuchKey", "The specified key does not exist.", nil)
		}
		w.Header().Set("Content-Type", o.contentType)
		if o.disposition != "" {
			w.Header().Set("Content-Disposition", o.disposition)
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		http.ServeContent(rec, r, "", time.Time{}, bytes.NewReader(o.data)) // Range, as OSS serves it
		return rec.status
	default:
		return f.fail(w, http.StatusMethodNotAllowed, reqID, "MethodNotAllowed", "The specified method is not allowed against this resource.", nil)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// authenticate checks the request's signature; it returns an OSS error
// code and message, or "" when the request may go on.
func (f *fakeOSS) authenticate(r *http.Request, bucket, object string) (code, msg string) {
	q := r.URL.Query()
	auth := r.Header.Get("Authorization")
	var (
		akID, credential, sig, date, additional, token string
		presigned                                      bool
	)
	switch {
	case q.Get("x-oss-signature-version") == "OSS4-HMAC-SHA256":
		presigned = true
		credential, date, sig = q.Get("x-oss-credential"), q.Get("x-oss-date"), q.Get("x-oss-signature")
		additional, token = q.Get("x-oss-additional-headers"), q.Get("x-oss-security-token")
		signedAt, err := time.Parse("20060102T150405Z", date)
		expires, eerr := strconv.Atoi(q.Get("x-oss-expires"))
		switch {
		case err != nil || eerr != nil:
			return "AccessDenied", "x-oss-date and x-oss-expires are required."
		case expires <= 0 || expires > 7*24*3600:
			return "AccessDenied", "x-oss-expires must be between 1 and 604800 seconds."
		case time.Now().After(signedAt.Add(time.Duration(expires) * time.Second)):
			return "AccessDenied", "Request has expired."
		case time.Until(signedAt) > maxDateSkew:
			return "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return "AccessDenied", "only reads are presigned here"
		}
	case strings.HasPrefix(auth, "OSS4-HMAC-SHA256 "):
		for _, kv := range strings.Split(strings.TrimPrefix(auth, "OSS4-HMAC-SHA256 "), ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			switch k {
			case "Credential":
				credential = v
			case "AdditionalHeaders":
				additional = v
			case "Signature":
				sig = v
			}
		}
		date, token = r.Header.Get("x-oss-date"), r.Header.Get("x-oss-security-token")
		var t time.Time
		var err error
		if date != "" {
			t, err = time.Parse("20060102T150405Z", date)
		} else {
			date = r.Header.Get("Date")
			t, err = http.ParseTime(date)
		}
		if err != nil {
			return "AccessDenied", "OSS authentication requires a valid Date."
		}
		if skew := time.Since(t); skew > maxDateSkew || skew < -maxDateSkew {
			return "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."
		}
	case strings.HasPrefix(auth, "OSS "):
		if !f.acceptV1 {
			return "AccessDenied", "This bucket does not accept signature version 1; sign requests with V4."
		}
		return f.authenticateV1(r, bucket, object)
	default:
		return "AccessDenied", "Authorization header is invalid."
	}

	// Credential = <id>/<yyyymmdd>/<region>/oss/aliyun_v4_request
	parts := strings.Split(credential, "/")
	if len(parts) != 5 || parts[3] != "oss" || parts[4] != "aliyun_v4_request" {
		return "AccessDenied", "The credential is malformed."
	}
	akID = parts[0]
	secret, wantToken, known := f.key(akID)
	if !known {
		return "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records."
	}
	if wantToken != token {
		return "InvalidSecurityToken", "The security token you provided is invalid."
	}
	if parts[2] != f.region {
		return "SignatureDoesNotMatch", "Invalid signing region in Authorization header."
	}
	t, err := time.Parse("20060102T150405Z", date)
	if err != nil {
		t, err = http.ParseTime(date)
	}
	if err != nil || t.UTC().Format("20060102") != parts[1] {
		return "SignatureDoesNotMatch", "The date of the credential does not match the request's."
	}
	want := signV4(secret, parts[1], parts[2], date, canonicalRequestV4(r, bucket, object, additional, presigned))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	}
	if f.oneUse {
		f.mu.Lock()
		delete(f.secrets, akID)
		f.mu.Unlock()
	}
	return "", ""
}

// authenticateV1 checks a V1 Authorization header.
func (f *fakeOSS) authenticateV1(r *http.Request, bucket, object string) (code, msg string) {
	t, err := http.ParseTime(r.Header.Get("Date"))
	if err != nil {
		return "AccessDenied", "OSS authentication requires a valid Date."
	}
	if skew := time.Since(t); skew > maxDateSkew || skew < -maxDateSkew {
		return "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."
	}
	akID, sig, ok := strings.Cut(strings.TrimPrefix(r.Header.Get("Authorization"), "OSS "), ":")
	secret, wantToken, known := f.key(akID)
	if !ok || !known {
		return "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records."
	}
	if wantToken != r.Header.Get("x-oss-security-token") {
		return "InvalidSecurityToken", "The security token you provided is invalid."
	}
	sts := stringToSignV1(r, "/"+bucket+"/"+object)
	if !hmac.Equal([]byte(sig), []byte(signV1(secret, sts))) {
		return "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	}
	return "", ""
}

// canonicalRequestV4 is VERB \n resource \n query \n headers \n
// additional header names \n payload hash, as OSS's V4 documentation
// lays it out: the query without the signature, sorted and encoded; the
// headers Content-Type, Content-MD5, every x-oss-* one and the named
// additional ones, lower-cased and sorted.
func canonicalRequestV4(r *http.Request, bucket, object, additional string, presigned bool) string {
	enc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	resource := "/" + bucket + "/" + strings.ReplaceAll(enc(object), "%2F", "/")
	var params []string
	for k, vs := range r.URL.Query() {
		if k == "x-oss-signature" {
			continue
		}
		p := enc(k)
		if vs[0] != "" {
			p += "=" + enc(vs[0])
		}
		params = append(params, p)
	}
	sort.Strings(params)
	extra := map[string]bool{}
	for _, h := range strings.Split(additional, ";") {
		if h != "" {
			extra[strings.ToLower(h)] = true
		}
	}
	var names []string
	for k := range r.Header {
		lk := strings.ToLower(k)
		if lk == "content-type" || lk == "content-md5" || strings.HasPrefix(lk, "x-oss-") || extra[lk] {
			names = append(names, lk)
		}
	}
	sort.Strings(names)
	var headers strings.Builder
	for _, n := range names {
		headers.WriteString(n + ":" + strings.TrimSpace(r.Header.Get(n)) + "\n")
	}
	payload := "UNSIGNED-PAYLOAD"
	if h := r.Header.Get("x-oss-content-sha256"); h != "" && !presigned {
		payload = h
	}
	return r.Method + "\n" + resource + "\n" + strings.Join(params, "&") + "\n" + headers.String() + "\n" + additional + "\n" + payload
}

// signV4 signs a canonical request: the key is derived from the secret
// through the day, the region, the product and "aliyun_v4_request".
func signV4(secret, day, region, date, canonical string) string {
	mac := func(key []byte, data string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(data))
		return h.Sum(nil)
	}
	sum := sha256.Sum256([]byte(canonical))
	scope := day + "/" + region + "/oss/aliyun_v4_request"
	stringToSign := "OSS4-HMAC-SHA256\n" + date + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := mac([]byte("aliyun_v4"+secret), day)
	for _, part := range []string{region, "oss", "aliyun_v4_request"} {
		key = mac(key, part)
	}
	return hex.EncodeToString(mac(key, stringToSign))
}

func (f *fakeOSS) put(w http.ResponseWriter, r *http.Request, reqID, object string) int {
	if len(r.TransferEncoding) > 0 || r.Header.Get("Content-Length") == "" || r.ContentLength < 0 {
		return f.fail(w, http.StatusLengthRequired, reqID, "MissingContentLength", "You must provide the Content-Length HTTP header.", nil)
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return f.fail(w, http.StatusBadRequest, reqID, "IncompleteBody", "The request body is incomplete.", nil)
	}
	if int64(len(data)) != r.ContentLength {
		return f.fail(w, http.StatusBadRequest, reqID, "IncompleteBody", "The request body is incomplete.", nil)
	}
	sum := md5.Sum(data)
	if m := r.Header.Get("Content-MD5"); m != "" {
		if _, err := base64.StdEncoding.DecodeString(m); err != nil {
			return f.fail(w, http.StatusBadRequest, reqID, "InvalidDigest", "The Content-MD5 you specified is not valid.", nil)
		}
		if m != base64.StdEncoding.EncodeToString(sum[:]) {
			return f.fail(w, http.StatusBadRequest, reqID, "InvalidDigest", "The Content-MD5 you specified did not match what we received.", nil)
		}
	}
	ctype := r.Header.Get("Content-Type")
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	f.mu.Lock()
	f.objects[object] = fakeObject{data: data, contentType: ctype, disposition: r.Header.Get("Content-Disposition")}
	f.mu.Unlock()
	w.Header().Set("ETag", `"`+strings.ToUpper(hex.EncodeToString(sum[:]))+`"`)
	w.Header().Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(crc64.Checksum(data, crc64.MakeTable(crc64.ECMA)), 10))
	w.WriteHeader(http.StatusOK)
	return http.StatusOK
}

// dialTo returns an HTTP client whose connections all go to addr, so a
// virtual-host name like <bucket>.oss-cn-test.aliyuncs.com reaches the fake.
func dialTo(addr string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
}

type ossSetup struct {
	name    string
	build   func(t *testing.T, srv *httptest.Server, secret string, extra ...oss.ClientOption) *OSS
	style   string
	wantURL func(srv *httptest.Server, object string) (host, path string)
}

func ossSetups() []ossSetup {
	return []ossSetup{
		{
			name: "path style (IP endpoint)",
			build: func(t *testing.T, srv *httptest.Server, secret string, extra ...oss.ClientOption) *OSS {
				t.Helper()
				return mustOSS(t, OSSConfig{Endpoint: srv.URL, Region: testRegion, Bucket: testBucket, AccessKeyID: testAccessKeyID, AccessKeySecret: secret, Prefix: "media/"}, extra...)
			},
			style: "path",
			wantURL: func(srv *httptest.Server, object string) (string, string) {
				return srv.Listener.Addr().String(), "/" + testBucket + "/" + object
			},
		},
		{
			name: "virtual host",
			build: func(t *testing.T, srv *httptest.Server, secret string, extra ...oss.ClientOption) *OSS {
				t.Helper()
				opts := append([]oss.ClientOption{oss.HTTPClient(dialTo(srv.Listener.Addr().String()))}, extra...)
				return mustOSS(t, OSSConfig{Endpoint: "http://" + testEndpointHost, Region: testRegion, Bucket: testBucket, AccessKeyID: testAccessKeyID, AccessKeySecret: secret, Prefix: "media"}, opts...)
			},
			style: "virtual-host",
			wantURL: func(_ *httptest.Server, object string) (string, string) {
				return testBucket + "." + testEndpointHost, "/" + object
			},
		},
	}
}

func mustOSS(t *testing.T, cfg OSSConfig, extra ...oss.ClientOption) *OSS {
	t.Helper()
	o, err := newOSS(cfg, extra...)
	if err != nil {
		t.Fatalf("newOSS: %v", err)
	}
	return o
}

func TestOSSPutDelete(t *testing.T) {
	for _, setup := range ossSetups() {
		t.Run(setup.name, func(t *testing.T) {
			fake, srv := newFakeOSS(t)
			o := setup.build(t, srv, testAccessKeySecret)
			ctx := context.Background()

			video := testData(70_000)
			cover := testData(1234)
			const vkey, ckey = "videos/2026/11/24/8f3a01c1.mp4", "covers/2026/11/24/8f3a01c1.jpg"
			// A reader without Len or Seek, like a multipart upload stream.
			if err := o.Put(ctx, vkey, io.MultiReader(bytes.NewReader(video)), int64(len(video)), "video/mp4"); err != nil {
				t.Fatalf("Put video: %v", err)
			}
			if err := o.Put(ctx, ckey, bytes.NewReader(cover), int64(len(cover)), ""); err != nil {
				t.Fatalf("Put cover: %v", err)
			}

			for _, want := range []struct {
				object, ctype string
				data          []byte
			}{
				{"media/" + vkey, "video/mp4", video},
				{"media/" + ckey, "image/jpeg", cover},
			} {
				got, ok := fake.object(want.object)
				if !ok {
					t.Fatalf("object %q not stored; have %v", want.object, fake.objectNames())
				}
				if !bytes.Equal(got.data, want.data) {
					t.Errorf("object %q: %d bytes stored, want %d identical bytes", want.object, len(got.data), len(want.data))
				}
				if got.contentType != want.ctype {
					t.Errorf("object %q: Content-Type %q, want %q", want.object, got.contentType, want.ctype)
				}
			}

			reqs := fake.requests()
			if len(reqs) != 2 {
				t.Fatalf("fake saw %d requests, want 2: %+v", len(reqs), reqs)
			}
			wantHost, wantPath := setup.wantURL(srv, "media/"+vkey)
			if r := reqs[0]; r.method != http.MethodPut || r.style != setup.style || r.host != wantHost || r.path != wantPath || r.status != http.StatusOK {
				t.Errorf("first request = %+v, want PUT %s%s (%s style) answered 200", r, wantHost, wantPath, setup.style)
			}

			for i := range 2 {
				if err := o.Delete(ctx, vkey); err != nil {
					t.Fatalf("Delete #%d: %v", i+1, err)
				}
			}
			if _, ok := fake.object("media/" + vkey); ok {
				t.Fatal("video still stored after Delete")
			}
			if got := fake.objectNames(); len(got) != 1 || got[0] != "media/"+ckey {
				t.Fatalf("objects after Delete = %v, want only the cover", got)
			}
			last := fake.requests()[len(fake.requests())-1]
			if last.method != http.MethodDelete || last.status != http.StatusNoContent {
				t.Fatalf("last request = %+v, want DELETE answered 204", last)
			}
		})
	}
}

func TestOSSWrongCredentialsFail(t *testing.T) {
	tests := []struct {
		name     string
		cfg      func(srv *httptest.Server) OSSConfig
		wantCode string
	}{
		{"wrong secret", func(srv *httptest.Server) OSSConfig {
			return OSSConfig{Endpoint: srv.URL, Region: testRegion, Bucket: testBucket, AccessKeyID: testAccessKeyID, AccessKeySecret: testAccessKeySecret + "x"}
		}, "SignatureDoesNotMatch"},
		{"unknown key id", func(srv *httptest.Server) OSSConfig {
			return OSSConfig{Endpoint: srv.URL, Region: testRegion, Bucket: testBucket, AccessKeyID: "LTAI5tNobody", AccessKeySecret: testAccessKeySecret}
		}, "InvalidAccessKeyId"},
		{"wrong bucket", func(srv *httptest.Server) OSSConfig {
			return OSSConfig{Endpoint: srv.URL, Region: testRegion, Bucket: "other-bucket", AccessKeyID: testAccessKeyID, AccessKeySecret: testAccessKeySecret}
		}, "NoSuchBucket"},
		{"wrong region", func(srv *httptest.Server) OSSConfig {
			return OSSConfig{Endpoint: srv.URL, Region: "cn-elsewhere", Bucket: testBucket, AccessKeyID: testAccessKeyID, AccessKeySecret: testAccessKeySecret}
		}, "SignatureDoesNotMatch"},
		{"V1 on a bucket that takes V4 only", func(srv *httptest.Server) OSSConfig {
			return OSSConfig{Endpoint: srv.URL, SignVersion: "v1", Bucket: testBucket, AccessKeyID: testAccessKeyID, AccessKeySecret: testAccessKeySecret}
		}, "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newFakeOSS(t)
			o := mustOSS(t, tt.cfg(srv))
			data := testData(100)
			err := o.Put(context.Background(), "videos/a.mp4", bytes.NewReader(data), int64(len(data)), "video/mp4")
			if err == nil {
				t.Fatal("Put succeeded, want an error")
			}
			var se oss.ServiceError
			if !errors.As(err, &se) {
				t.Fatalf("Put error %v (%T) is not an oss.ServiceError", err, err)
			}
			if se.Code != tt.wantCode {
				t.Fatalf("error code = %q, want %q (%v)", se.Code, tt.wantCode, err)
			}
			if got := fake.objectNames(); len(got) != 0 {
				t.Fatalf("objects stored despite the error: %v", got)
			}
			if err := o.Delete(context.Background(), "videos/a.mp4"); err == nil {
				t.Fatal("Delete succeeded with bad credentials, want an error")
			}
		})
	}
}

// TestFakeOSSChecksV1 shows the fake rejects V1 requests a real OSS would
// (on a bucket that still accepts V1), using a signer written here rather
// than the SDK.
func TestFakeOSSChecksV1(t *testing.T) {
	now := time.Now().UTC()
	tests := []struct {
		name       string
		date       time.Time
		signedType string // Content-Type in the string to sign
		sentType   string // Content-Type on the wire
		md5        string
		wantStatus int
		wantCode   string
	}{
		{"valid", now, "video/mp4", "video/mp4", "", http.StatusOK, ""},
		{"valid with md5", now, "video/mp4", "video/mp4", "good", http.StatusOK, ""},
		{"bad md5", now, "video/mp4", "video/mp4", "bad", http.StatusBadRequest, "InvalidDigest"},
		{"header changed after signing", now, "video/mp4", "text/html", "", http.StatusForbidden, "SignatureDoesNotMatch"},
		{"old date", now.Add(-time.Hour), "video/mp4", "video/mp4", "", http.StatusForbidden, "RequestTimeTooSkewed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newFakeOSS(t)
			fake.acceptV1 = true
			body := []byte("hello oss")
			req, err := http.NewRequest(http.MethodPut, srv.URL+"/"+testBucket+"/media/a.mp4", bytes.NewReader(body))
			if err != nil {
				t.Fatalf("new request: %v", err)
			}
			date := tt.date.Format(http.TimeFormat)
			req.Header.Set("Date", date)
			req.Header.Set("X-Oss-Meta-Owner", "tester")
			md5sum := ""
			switch tt.md5 {
			case "good":
				sum := md5.Sum(body)
				md5sum = base64.StdEncoding.EncodeToString(sum[:])
			case "bad":
				sum := md5.Sum([]byte("other"))
				md5sum = base64.StdEncoding.EncodeToString(sum[:])
			}
			if md5sum != "" {
				req.Header.Set("Content-MD5", md5sum)
			}
			sts := "PUT\n" + md5sum + "\n" + tt.signedType + "\n" + date + "\nx-oss-meta-owner:tester\n/" + testBucket + "/media/a.mp4"
			req.Header.Set("Authorization", "OSS "+testAccessKeyID+":"+signV1(testAccessKeySecret, sts))
			req.Header.Set("Content-Type", tt.sentType)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("do: %v", err)
			}
			raw, err := io.ReadAll(resp.Body)
			if cerr := resp.Body.Close(); cerr != nil {
				t.Fatalf("close: %v", cerr)
			}
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.wantStatus, raw)
			}
			if tt.wantCode != "" {
				var eb ossErrorBody
				if err := xml.Unmarshal(raw, &eb); err != nil {
					t.Fatalf("error body is not OSS XML: %v: %s", err, raw)
				}
				if eb.Code != tt.wantCode {
					t.Fatalf("code = %q, want %q", eb.Code, tt.wantCode)
				}
			}
			_, stored := fake.object("media/a.mp4")
			if want := tt.wantStatus == http.StatusOK; stored != want {
				t.Fatalf("stored = %v, want %v", stored, want)
			}
		})
	}
}

func TestOSSContentMD5(t *testing.T) {
	fake, srv := newFakeOSS(t)
	o := ossSetups()[0].build(t, srv, testAccessKeySecret, oss.EnableMD5(true))
	data := testData(5000)
	if err := o.Put(context.Background(), "videos/md5.mp4", bytes.NewReader(data), int64(len(data)), "video/mp4"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	reqs := fake.requests()
	sum := md5.Sum(data)
	if want := base64.StdEncoding.EncodeToString(sum[:]); len(reqs) != 1 || reqs[0].contentMD5 != want {
		t.Fatalf("requests = %+v, want one PUT with Content-MD5 %s", reqs, want)
	}
	if _, ok := fake.object("media/videos/md5.mp4"); !ok {
		t.Fatal("object not stored")
	}
}

func TestOSSPutFailures(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		key     string
		r       io.Reader
		size    int64
		wantErr error
	}{
		{"short reader", context.Background(), "videos/a.mp4", io.MultiReader(bytes.NewReader(testData(10))), 11, nil},
		{"long reader", context.Background(), "videos/a.mp4", io.MultiReader(bytes.NewReader(testData(12))), 11, ErrSizeMismatch},
		{"reader error", context.Background(), "videos/a.mp4", &failingReader{data: testData(100), err: errors.New("dropped")}, 1000, nil},
		{"cancelled", cancelled, "videos/a.mp4", bytes.NewReader(testData(10)), 10, context.Canceled},
		{"invalid key", context.Background(), "videos/../a.mp4", bytes.NewReader(testData(10)), 10, ErrInvalidKey},
		{"negative size", context.Background(), "videos/a.mp4", bytes.NewReader(nil), -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newFakeOSS(t)
			o := ossSetups()[0].build(t, srv, testAccessKeySecret)
			err := o.Put(tt.ctx, tt.key, tt.r, tt.size, "video/mp4")
			if err == nil {
				t.Fatal("Put succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Put error = %v, want %v", err, tt.wantErr)
			}
			if got := fake.objectNames(); len(got) != 0 {
				t.Fatalf("objects left behind: %v", got)
			}
		})
	}
}

func TestNewOSSValidation(t *testing.T) {
	good := OSSConfig{Endpoint: "oss-cn-hangzhou.aliyuncs.com", Region: "cn-hangzhou", Bucket: "bkt", AccessKeyID: "id", AccessKeySecret: "secret"}
	tests := []struct {
		name    string
		mutate  func(*OSSConfig)
		wantErr string // empty: no error
	}{
		{"ok", func(*OSSConfig) {}, ""},
		{"missing endpoint", func(c *OSSConfig) { c.Endpoint = "" }, "Endpoint is required"},
		{"missing bucket", func(c *OSSConfig) { c.Bucket = " " }, "Bucket is required"},
		{"missing key id", func(c *OSSConfig) { c.AccessKeyID = "" }, "go together"},
		{"missing secret", func(c *OSSConfig) { c.AccessKeySecret = "" }, "go together"},
		{"no credentials", func(c *OSSConfig) { c.AccessKeyID, c.AccessKeySecret = "", "" }, "credentials are required"},
		{"no region for V4", func(c *OSSConfig) { c.Region = "" }, "Region is required"},
		{"V1 needs no region", func(c *OSSConfig) { c.Region, c.SignVersion = "", "v1" }, ""},
		{"unknown sign version", func(c *OSSConfig) { c.SignVersion = "v2" }, "SignVersion"},
		{"signed URLs", func(c *OSSConfig) { c.URLMode, c.URLLifetime = "signed", time.Hour }, ""},
		{"signed URLs with V1", func(c *OSSConfig) { c.URLMode, c.URLLifetime, c.SignVersion = "signed", time.Hour, "v1" }, "need SignVersion v4"},
		{"signed URLs past 7 days", func(c *OSSConfig) { c.URLMode, c.URLLifetime = "signed", 8*24*time.Hour }, "URLLifetime"},
		{"unknown URL mode", func(c *OSSConfig) { c.URLMode = "private" }, "URLMode"},
		{"bad endpoint scheme", func(c *OSSConfig) { c.Endpoint = "ftp://oss.example.com" }, "Endpoint"},
		{"bad prefix", func(c *OSSConfig) { c.Prefix = "../media" }, "Prefix"},
		{"bad public url", func(c *OSSConfig) { c.PublicURL = "cdn.example.com" }, "PublicURL"},
		{"bad bucket name", func(c *OSSConfig) { c.Bucket = "No_Such/Bucket" }, "bucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			_, err := NewOSS(cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewOSS: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewOSS error = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestOSSURL(t *testing.T) {
	const key = "videos/2026/11/24/8f3a01c1.mp4"
	tests := []struct {
		name                        string
		endpoint, prefix, publicURL string
		want                        string
	}{
		{"bucket domain", "oss-cn-hangzhou.aliyuncs.com", "media/", "", "https://bkt.oss-cn-hangzhou.aliyuncs.com/media/" + key},
		{"endpoint with scheme", "https://oss-cn-hangzhou.aliyuncs.com", "media", "", "https://bkt.oss-cn-hangzhou.aliyuncs.com/media/" + key},
		{"no prefix", "oss-cn-hangzhou.aliyuncs.com", "", "", "https://bkt.oss-cn-hangzhou.aliyuncs.com/" + key},
		{"cdn", "oss-cn-hangzhou.aliyuncs.com", "media/", "https://cdn.example.com", "https://cdn.example.com/media/" + key},
		{"cdn trailing slash", "oss-cn-hangzhou.aliyuncs.com", "/media/", "https://cdn.example.com/", "https://cdn.example.com/media/" + key},
		{"cdn with path, no prefix", "oss-cn-hangzhou.aliyuncs.com", "", "http://cdn.example.com/app", "http://cdn.example.com/app/" + key},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := NewOSS(OSSConfig{Endpoint: tt.endpoint, Region: "cn-hangzhou", Bucket: "bkt", AccessKeyID: "id", AccessKeySecret: "s", Prefix: tt.prefix, PublicURL: tt.publicURL})
			if err != nil {
				t.Fatalf("NewOSS: %v", err)
			}
			if got := o.URL(key); got != tt.want {
				t.Fatalf("URL(%q) = %q, want %q", key, got, tt.want)
			}
		})
	}
}
