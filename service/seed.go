package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tiktok-lite/server/pkg/errcode"
)

// DemoUserName owns the sample video of a fresh embedded install.
const DemoUserName = "douyin-demo"

// VideoCounter counts videos.
type VideoCounter interface {
	VideoCount(ctx context.Context) (int64, error)
}

// SeedDemo gives an empty database one user and one sample video, so that a
// new install's feed and the APK show something at once. It does nothing
// when any video exists.
func SeedDemo(ctx context.Context, counter VideoCounter, users *Users, videos *Videos, sample []byte, tmpDir string) (bool, error) {
	n, err := counter.VideoCount(ctx)
	if err != nil {
		return false, fmt.Errorf("seed: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	pw := make([]byte, 12)
	if _, err := rand.Read(pw); err != nil {
		return false, fmt.Errorf("seed: %w", err)
	}
	// The password is thrown away: the demo account only owns the sample.
	s, err := users.Register(ctx, DemoUserName, hex.EncodeToString(pw))
	var userID int64
	switch {
	case err == nil:
		userID = s.UserID
	case errors.Is(err, errcode.NameTaken):
		u, err := users.store.UserByName(ctx, DemoUserName)
		if err != nil {
			return false, fmt.Errorf("seed: %w", err)
		}
		userID = u.ID
	default:
		return false, fmt.Errorf("seed: %w", err)
	}
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return false, fmt.Errorf("seed: %w", err)
	}
	path := filepath.Join(tmpDir, "sample.mp4")
	if err := os.WriteFile(path, sample, 0o600); err != nil {
		return false, fmt.Errorf("seed: %w", err)
	}
	defer os.Remove(path)
	if _, err := videos.Publish(ctx, userID, "Welcome to Douyin lite: a sample clip", Upload{Path: path, Size: int64(len(sample))}); err != nil {
		return false, fmt.Errorf("seed: %w", err)
	}
	return true, nil
}
