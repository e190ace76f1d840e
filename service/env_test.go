package service_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tiktok-lite/server/model"
	pkgapp "github.com/tiktok-lite/server/pkg/app"
	"github.com/tiktok-lite/server/pkg/auth"
	"github.com/tiktok-lite/server/pkg/config"
	"github.com/tiktok-lite/server/pkg/media"
	"github.com/tiktok-lite/server/service"
	"github.com/tiktok-lite/server/test/testenv"
)

// app is the service layer over one real database, as main builds it.
type app struct {
	store  *model.Store
	users  *service.Users
	videos *service.Videos
	inter  *service.Interactions
	social *service.Social
	tokens *auth.Tokens
	media  *pkgapp.Media
	dir    string
}

func newApp(t *testing.T, cfg config.Database, inProcess bool) *app {
	t.Helper()
	return newAppOver(t, cfg, inProcess, nil)
}

// newAppOver is newApp with the services' store wrapped by wrap (nil:
// none), to make the database's answers what a test needs.
func newAppOver(t *testing.T, cfg config.Database, inProcess bool, wrap func(service.Store) service.Store) *app {
	t.Helper()
	c := testenv.AppConfig(t, cfg)
	if inProcess {
		c.Cache.LocalTTL = time.Hour
	}
	core, err := pkgapp.NewCore(context.Background(), c, "http://server.test",
		pkgapp.Parts{DB: testenv.OpenDB(t, cfg), WrapStore: wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := core.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	svc := core.Services
	return &app{store: core.Store, users: svc.Users, videos: svc.Videos, inter: svc.Interactions, social: svc.Social,
		tokens: core.Tokens, media: core.Media, dir: t.TempDir()}
}

// forEachBackend runs fn on every database, and on SQLite once more with
// the in-process cache of the embedded default in front of it.
func forEachBackend(t *testing.T, fn func(t *testing.T, a *app)) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, newApp(t, b.Cfg, false)) })
		if b.Cfg.Driver == "sqlite" {
			t.Run(b.Name+"+in-process", func(t *testing.T) { fn(t, newApp(t, testenv.SQLiteConfig(t), true)) })
		}
	}
}

func (a *app) register(t *testing.T, name string) int64 {
	t.Helper()
	s, err := a.users.Register(context.Background(), name, "password1")
	if err != nil {
		t.Fatalf("register %q: %v", name, err)
	}
	return s.UserID
}

func (a *app) registerN(t *testing.T, prefix string, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = a.register(t, fmt.Sprintf("%s%d", prefix, i))
	}
	return ids
}

func (a *app) publish(t *testing.T, author int64, title string) *model.Video {
	t.Helper()
	path := filepath.Join(a.dir, "upload.mp4")
	if err := os.WriteFile(path, media.SampleVideo(), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := a.videos.Publish(context.Background(), author, title, service.Upload{Path: path, Size: int64(len(media.SampleVideo()))})
	if err != nil {
		t.Fatalf("publish %q: %v", title, err)
	}
	return v
}

func (a *app) profile(t *testing.T, id int64) *service.User {
	t.Helper()
	u, err := a.users.Profile(context.Background(), 0, id)
	if err != nil {
		t.Fatalf("profile %d: %v", id, err)
	}
	return u
}

func (a *app) videoView(t *testing.T, viewer, videoID int64) service.Video {
	t.Helper()
	page, err := a.videos.Feed(context.Background(), viewer, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range page.Videos {
		if v.ID == videoID {
			return v
		}
	}
	t.Fatalf("video %d not in feed", videoID)
	return service.Video{}
}

// count runs a COUNT(*) straight on the table, the rows the counters must match.
func (a *app) count(t *testing.T, table, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := a.store.DB().Table(table).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// parallel runs fn n times at once and returns the errors.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	done := make(chan struct{})
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		go func(i int) {
			<-start
			errs[i] = fn(i)
			done <- struct{}{}
		}(i)
	}
	close(start)
	for i := 0; i < n; i++ {
		<-done
	}
	return errs
}

func noErrors(t *testing.T, what string, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s #%d: %v", what, i, err)
		}
	}
}
