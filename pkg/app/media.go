package app

import (
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/tiktok-lite/server/pkg/config"
	"github.com/tiktok-lite/server/pkg/storage"
	"github.com/tiktok-lite/server/service"
)

// Media is the configured media backend with what the routes need.
type Media struct {
	Backend
	Handler http.Handler // serves local media under /media/; nil for OSS
	Origin  string       // where clients fetch media from
}

// Backend is what the services and a transfer use of a media backend.
type Backend interface {
	service.MediaStore
	service.Media
}

// OpenMedia builds the configured media backend; publicURL is the base of
// local media URLs.
func OpenMedia(cfg *config.Config, publicURL string, log *zap.Logger) (*Media, error) {
	if cfg.Storage.Backend == "oss" {
		o, err := newOSS(cfg.Storage.OSS, log)
		if err != nil {
			return nil, fmt.Errorf("storage.oss: %w", err)
		}
		return &Media{Backend: o, Origin: o.Origin()}, nil
	}
	local, err := storage.NewLocal(cfg.Storage.Local.Dir, publicURL)
	if err != nil {
		return nil, fmt.Errorf("storage.local: %w", err)
	}
	return &Media{Backend: local, Handler: local.Handler(), Origin: publicURL}, nil
}

// newOSS builds the OSS backend with its credentials.
func newOSS(o config.OSSStore, log *zap.Logger) (*storage.OSS, error) {
	sc := storage.OSSConfig{Endpoint: o.Endpoint, Region: o.Region, Bucket: o.Bucket, SignVersion: o.SignVersion,
		Prefix: o.Prefix, PublicURL: o.PublicURL, URLMode: o.URLMode, URLLifetime: o.URLLifetime,
		OnSignError: func(err error) { log.Error("could not sign media URLs, serving public ones", zap.Error(err)) }}
	if o.Credentials == "key" {
		sc.AccessKeyID, sc.AccessKeySecret = o.AccessKeyID, o.AccessKeySecret
	} else {
		p, err := storage.OSSCredentials(o.Credentials, o.RAMRole)
		if err != nil {
			return nil, err
		}
		sc.Provider = p
	}
	return storage.NewOSS(sc)
}
