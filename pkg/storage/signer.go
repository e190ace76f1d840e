package storage

import (
	"sync"
	"time"
)

// signer hands out presigned GET URLs by windows of time. Every URL signed
// in a window expires at the window's start plus the lifetime, and each
// object is signed once per window, so the same object keeps the same URL
// for the whole window (players and CDNs cache by URL), and every URL
// handed out stays valid for at least lifetime minus one window. Nothing
// that caches answers holds URLs (caches hold keys; the memo of encoded
// items re-encodes an item whose URL changed), so no answer outlives the
// URLs in it.
type signer struct {
	lifetime time.Duration
	window   time.Duration
	now      func() time.Time
	sign     func(name string, expiresIn int64) (string, error)
	onError  func(error) // called once per window at most

	mu     sync.Mutex
	start  int64             // unix seconds of the current window
	urls   map[string]string // object name -> URL, for this window
	failed bool
}

// maxSignedURLs bounds the URLs kept for one window; past it URLs are
// signed afresh each time (still valid, no longer the same).
const maxSignedURLs = 1 << 16

func newSigner(lifetime time.Duration, now func() time.Time) *signer {
	window := max(lifetime/4, time.Second)
	return &signer{lifetime: lifetime, window: window, now: now, onError: func(error) {}}
}

func (s *signer) url(name string) (string, error) {
	now := s.now().Unix()
	w := int64(s.window / time.Second)
	start := now - now%w
	s.mu.Lock()
	if start != s.start {
		s.start, s.urls, s.failed = start, make(map[string]string), false
	}
	if u, ok := s.urls[name]; ok {
		s.mu.Unlock()
		return u, nil
	}
	s.mu.Unlock()

	u, err := s.sign(name, start+int64(s.lifetime/time.Second)-now)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if !s.failed {
			s.failed = true
			s.onError(err)
		}
		return "", err
	}
	if start != s.start {
		return u, nil // the window moved on while this one was signed
	}
	if prev, ok := s.urls[name]; ok {
		return prev, nil // signed at the same time by another caller
	}
	if len(s.urls) < maxSignedURLs {
		s.urls[name] = u
	}
	return u, nil
}
