package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// OSSConfig configures the Aliyun OSS backend.
type OSSConfig struct {
	// Endpoint is the region endpoint, e.g. "oss-cn-hangzhou.aliyuncs.com";
	// https is assumed when no scheme is given.
	Endpoint        string
	Bucket          string
	AccessKeyID     string
	AccessKeySecret string
	// Prefix is put in front of every key inside the bucket, e.g. "media/".
	// A missing trailing slash is added.
	Prefix string
	// PublicURL is the base URL the phone downloads from (a CDN or the
	// bucket domain). When empty, https://<bucket>.<endpoint host> is used.
	PublicURL string
}

// OSS stores objects in an Aliyun OSS bucket. Objects are read by clients
// straight from the bucket or its CDN, so the bucket (or the prefix) must
// allow public reads.
type OSS struct {
	bucket  *oss.Bucket
	prefix  string
	baseURL string // ends with "/"
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
		{"AccessKeyID", cfg.AccessKeyID},
		{"AccessKeySecret", cfg.AccessKeySecret},
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

	// The signature version is pinned so that an SDK upgrade cannot change
	// how requests are signed without a test noticing.
	opts := append([]oss.ClientOption{oss.AuthVersion(oss.AuthV1)}, extra...)
	client, err := oss.New(eu.Scheme+"://"+eu.Host, cfg.AccessKeyID, cfg.AccessKeySecret, opts...)
	if err != nil {
		return nil, fmt.Errorf("oss storage: client: %w", err)
	}
	bucket, err := client.Bucket(cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("oss storage: bucket: %w", err)
	}
	return &OSS{bucket: bucket, prefix: prefix, baseURL: baseURL}, nil
}

// URL returns the public URL of key.
func (o *OSS) URL(key string) string {
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
	err := o.bucket.PutObject(name, body,
		oss.WithContext(ctx),
		oss.ContentType(ctype),
		oss.ContentLength(size),
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
