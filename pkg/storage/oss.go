package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// OSSConfig configures the Aliyun OSS backend.
type OSSConfig struct {
	// Endpoint is the region endpoint, e.g. "oss-cn-hangzhou.aliyuncs.com";
	// https is assumed when no scheme is given.
	Endpoint string
	// Region is the bucket's region ID, e.g. "cn-hangzhou": part of every
	// V4 signature.
	Region string
	Bucket string
	// SignVersion is "v4" (the default) or "v1", which OSS no longer
	// offers to new accounts and buckets.
	SignVersion string
	// Credentials: an access key pair here, or else Provider (the
	// standard environment variables, an ECS RAM role; see OSSCredentials).
	AccessKeyID     string
	AccessKeySecret string
	Provider        oss.CredentialsProvider
	// Prefix is put in front of every key inside the bucket, e.g. "media/".
	// A missing trailing slash is added.
	Prefix string
	// PublicURL is the base URL the phone downloads from (a CDN or the
	// bucket domain). When empty, https://<bucket>.<endpoint host> is used.
	PublicURL string
	// URLMode is "public" (PublicURL + key: a public bucket or CDN) or
	// "signed" (a V4 presigned GET URL, for a private bucket).
	URLMode string
	// URLLifetime is how long a signed URL is valid, at most 7 days.
	URLLifetime time.Duration
	// OnSignError hears, at most once per signing window, that a URL could
	// not be signed (credentials that cannot be had right now); nil: none.
	OnSignError func(error)
}

// MaxSignedURLLifetime is the longest a V4 presigned URL may be valid.
const MaxSignedURLLifetime = 7 * 24 * time.Hour

// OSS stores objects in an Aliyun OSS bucket. Clients read objects straight
// from the bucket or its CDN: through a public URL, or through a presigned
// one on a private bucket.
type OSS struct {
	bucket  *oss.Bucket
	prefix  string
	baseURL string  // ends with "/"
	signed  *signer // nil: public URLs
	origin  string  // scheme and host of the URLs handed out
}

// NewOSS checks cfg and builds the client. It does not contact OSS: the SDK
// only dials when the first request is made.
func NewOSS(cfg OSSConfig) (*OSS, error) {
	return newOSS(cfg)
}

// newOSS lets tests add client options, such as an HTTP client that reaches
// a local server under an OSS host name.
func newOSS(cfg OSSConfig, extra ...oss.ClientOption) (*OSS, error) {
	for _, f := range []struct{ name, value string }{
		{"Endpoint", cfg.Endpoint},
		{"Bucket", cfg.Bucket},
	} {
		if strings.TrimSpace(f.value) == "" {
			return nil, fmt.Errorf("oss storage: %s is required", f.name)
		}
	}
	endpoint := cfg.Endpoint
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
	}
	eu, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("oss storage: Endpoint: %w", err)
	}
	if (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
		return nil, fmt.Errorf("oss storage: Endpoint %q is not a host name or http(s) url", cfg.Endpoint)
	}

	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		if err := ValidKey(prefix); err != nil {
			return nil, fmt.Errorf("oss storage: Prefix: %w", err)
		}
		prefix += "/"
	}

	baseURL := "https://" + cfg.Bucket + "." + eu.Host + "/"
	if cfg.PublicURL != "" {
		if err := checkBaseURL("oss storage: PublicURL", cfg.PublicURL); err != nil {
			return nil, err
		}
		baseURL = strings.TrimRight(cfg.PublicURL, "/") + "/"
	}

	// The signature version is always set, so that an SDK upgrade cannot
	// change how requests are signed without a test noticing.
	var opts []oss.ClientOption
	switch cfg.SignVersion {
	case "", "v4":
		if strings.TrimSpace(cfg.Region) == "" {
			return nil, errors.New("oss storage: Region is required to sign with V4 (e.g. cn-hangzhou)")
		}
		opts = append(opts, oss.AuthVersion(oss.AuthV4), oss.Region(cfg.Region))
	case "v1":
		opts = append(opts, oss.AuthVersion(oss.AuthV1))
	default:
		return nil, fmt.Errorf("oss storage: SignVersion must be v4 or v1, got %q", cfg.SignVersion)
	}
	switch {
	case cfg.AccessKeyID != "" || cfg.AccessKeySecret != "":
		if cfg.AccessKeyID == "" || cfg.AccessKeySecret == "" {
			return nil, errors.New("oss storage: AccessKeyID and AccessKeySecret go together")
		}
	case cfg.Provider != nil:
		opts = append(opts, oss.SetCredentialsProvider(cfg.Provider))
	default:
		return nil, errors.New("oss storage: credentials are required: an access key pair or a provider")
	}
	var signed *signer
	switch cfg.URLMode {
	case "", "public":
	case "signed":
		if cfg.SignVersion == "v1" {
			return nil, errors.New("oss storage: signed URLs need SignVersion v4")
		}
		if cfg.URLLifetime <= 0 || cfg.URLLifetime > MaxSignedURLLifetime {
			return nil, fmt.Errorf("oss storage: URLLifetime must be between 1s and %s, got %s", MaxSignedURLLifetime, cfg.URLLifetime)
		}
		signed = newSigner(cfg.URLLifetime, time.Now)
		if cfg.OnSignError != nil {
			signed.onError = cfg.OnSignError
		}
	default:
		return nil, fmt.Errorf("oss storage: URLMode must be public or signed, got %q", cfg.URLMode)
	}
	opts = append(opts, extra...)
	client, err := oss.New(eu.Scheme+"://"+eu.Host, cfg.AccessKeyID, cfg.AccessKeySecret, opts...)
	if err != nil {
		return nil, fmt.Errorf("oss storage: client: %w", err)
	}
	bucket, err := client.Bucket(cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("oss storage: bucket: %w", err)
	}
	if signed != nil {
		signed.sign = func(name string, expiresIn int64) (string, error) {
			return bucket.SignURL(name, oss.HTTPGet, expiresIn)
		}
	}
	origin := baseURL
	if signed != nil {
		// Presigned URLs name the bucket the way the SDK reaches it: as a
		// virtual host of the endpoint, or in the path of an IP endpoint.
		origin = eu.Scheme + "://" + cfg.Bucket + "." + eu.Host
		if net.ParseIP(eu.Hostname()) != nil {
			origin = eu.Scheme + "://" + eu.Host
		}
	}
	if u, err := url.Parse(origin); err == nil {
		origin = u.Scheme + "://" + u.Host
	}
	return &OSS{bucket: bucket, prefix: prefix, baseURL: baseURL, signed: signed, origin: origin}, nil
}

// Origin is the scheme and host clients fetch media from, for the web
// client's Content-Security-Policy.
func (o *OSS) Origin() string { return o.origin }

// URL returns the URL a client downloads key from: public, or presigned
// for the current window (see signer). When a URL cannot be signed
// (credentials that cannot be had right now, reported through
// OnSignError) the public URL is the best left to give.
func (o *OSS) URL(key string) string {
	if o.signed != nil {
		if u, err := o.signed.url(o.prefix + key); err == nil {
			return u
		}
	}
	return o.baseURL + escapeKey(o.prefix+key)
}

// Put uploads exactly size bytes from r as key with the given content type
// (derived from the extension when empty). A reader holding fewer bytes
// fails the request; one holding more is detected after the upload and the
// object is removed again.
func (o *OSS) Put(ctx context.Context, key string, r io.Reader, size int64, ctype string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("oss storage: negative size %d", size)
	}
	if ctype == "" {
		ctype = contentType(key)
	}
	name := o.prefix + key
	// A LimitedReader is how the SDK learns the length to send as
	// Content-Length instead of falling back to a chunked upload.
	body := &io.LimitedReader{R: r, N: size}
	// inline: a browser or the APK plays the object rather than saving it.
	err := o.bucket.PutObject(name, body,
		oss.WithContext(ctx),
		oss.ContentType(ctype),
		oss.ContentLength(size),
		oss.ContentDisposition("inline"),
	)
	if err != nil {
		return fmt.Errorf("oss storage: put %s: %w", key, err)
	}
	if err := checkDrained(r); err != nil {
		if derr := o.bucket.DeleteObject(name, oss.WithContext(ctx)); derr != nil {
			return errors.Join(err, fmt.Errorf("oss storage: remove %s: %w", key, derr))
		}
		return err
	}
	return nil
}

// checkDrained reports an error unless r is at its end.
func checkDrained(r io.Reader) error {
	var one [1]byte
	n, err := io.ReadFull(r, one[:])
	if n > 0 {
		return fmt.Errorf("oss storage: %w: reader holds more than the declared size", ErrSizeMismatch)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("oss storage: read: %w", err)
	}
	return nil
}

// Open returns the object stored as key and its size; the caller closes
// it.
func (o *OSS) Open(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if err := ValidKey(key); err != nil {
		return nil, 0, err
	}
	meta, err := o.bucket.GetObjectMeta(o.prefix+key, oss.WithContext(ctx))
	if err != nil {
		return nil, 0, fmt.Errorf("oss storage: stat %s: %w", key, err)
	}
	size, err := strconv.ParseInt(meta.Get("Content-Length"), 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("oss storage: stat %s: no length: %w", key, err)
	}
	body, err := o.bucket.GetObject(o.prefix+key, oss.WithContext(ctx))
	if err != nil {
		return nil, 0, fmt.Errorf("oss storage: get %s: %w", key, err)
	}
	return body, size, nil
}

// Delete removes key; OSS answers success for a missing object too.
func (o *OSS) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if err := o.bucket.DeleteObject(o.prefix+key, oss.WithContext(ctx)); err != nil {
		return fmt.Errorf("oss storage: delete %s: %w", key, err)
	}
	return nil
}
