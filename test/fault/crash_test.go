package fault

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tiktok-lite/server/test/tcpproxy"
)

// crashBound is how long after a restart a value cached before a crash may
// still be served: the outbox is swept as the server starts.
const crashBound = 3 * time.Second

// TestKilledBetweenCommitAndDelete kills the server (SIGKILL) after its
// writes committed and before their cache deletes could reach Redis or
// the retry queue: both are silent at that moment, so the deletes are only
// in the dying process. The keys each write made stale were recorded in
// its own transaction (the outbox), and the restarted server deletes them:
// within crashBound nothing cached before the crash is served.
func TestKilledBetweenCommitAndDelete(t *testing.T) {
	var redisLink, mqLink *tcpproxy.Proxy
	st := newStack(t, direct,
		func(target string) link { redisLink = tcpproxy.Start(t, target); return redisLink },
		func(target string) link { mqLink = tcpproxy.Start(t, target); return mqLink })
	env := st.env(t)
	s := start(t, env...)
	db := st.db(t)
	sc := newScene(t, s, db)
	staleDetected(t, sc)
	sc.warm(t)

	redisLink.Blackhole()
	mqLink.Blackhole()
	var writes []write
	for _, w := range sc.writes() {
		switch w.name {
		case "follow", "like", "comment":
			writes = append(writes, w)
		}
	}
	var wg sync.WaitGroup
	for _, w := range writes {
		wg.Go(func() { s.tryPost(w.path, w.params) }) // the answer may never come
	}
	took, err := eventually(10*time.Second, func() error {
		var missing []error
		for _, w := range writes {
			if ok, err := w.applied(); err != nil || !ok {
				missing = append(missing, fmt.Errorf("%s not committed (%v)", w.name, err))
			}
		}
		return errors.Join(missing...)
	})
	if err != nil {
		t.Fatalf("after %s: %v", took.Round(time.Millisecond), err)
	}
	s.Kill()
	wg.Wait()
	for _, w := range writes {
		w.apply()
	}
	redisLink.Restore()
	mqLink.Restore()

	sc.s = start(t, env...)
	took, err = eventually(crashBound, sc.fresh)
	if err != nil {
		t.Fatalf("%s after the restart: %v", took.Round(time.Millisecond), err)
	}
	t.Logf("nothing stale %s after the restart", took.Round(time.Millisecond))
	checkCounters(t, db)
}
