package cache_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tiktok-lite/server/service"
)

// TestAReaderAfterAWriteDoesNotJoinALoadFromBefore: a load of a comment
// list is held at a barrier after it has read the database; a comment is
// then added, and the writer reads the list again. That read must not
// share the held load (singleflight), whose value predates the comment.
func TestAReaderAfterAWriteDoesNotJoinALoadFromBefore(t *testing.T) {
	for _, local := range []time.Duration{time.Hour, 0} {
		t.Run(fmt.Sprintf("in-process layer %s", map[bool]string{true: "on", false: "off"}[local > 0]), func(t *testing.T) {
			aReaderAfterAWriteDoesNotJoinALoadFromBefore(t, local)
		})
	}
}

func aReaderAfterAWriteDoesNotJoinALoadFromBefore(t *testing.T, local time.Duration) {
	o := fixture(t)
	o.local = local
	n := newNode(t, o)
	w := seed(t, n)
	waitLocal(t, n, o)
	ctx := context.Background()
	video := w.videos[2].ID // no comments, and its list not read yet

	loaded, release := holdFirstQuery(t, n, "comments")
	list := func(out chan<- []service.Comment) {
		l, err := n.inter.CommentList(ctx, 0, video)
		if err != nil {
			t.Error(err)
		}
		out <- l
	}
	before, after := make(chan []service.Comment, 1), make(chan []service.Comment, 1)
	go list(before)
	<-loaded // the first load has read an empty list and waits
	if _, err := n.inter.AddComment(ctx, w.users[1], video, "after the load began"); err != nil {
		t.Fatal(err)
	}
	go list(after)
	time.Sleep(200 * time.Millisecond) // long enough to join the held load, if it may
	close(release)
	if l := <-after; len(l) != 1 {
		t.Fatalf("the writer's read after its comment has %d comments, want 1", len(l))
	}
	<-before
}

// TestAFillCannotOverwriteALaterDelete: a load of a comment list reads the
// database and is held before it writes back; a comment is added (its
// delete runs while the load waits), then the load goes on. Its old list
// must not land in Redis, where every later reader, here a second
// instance without the in-process layer, would find it: the delete took
// the load's lease. The second delete is put off past the test, so it
// cannot hide the race.
func TestAFillCannotOverwriteALaterDelete(t *testing.T) {
	o := fixture(t)
	o.secondDelete = 5 * time.Second
	n := newNode(t, o)
	w := seed(t, n)
	other := newNode(t, o)
	ctx := context.Background()
	video := w.videos[2].ID // no comments, and its list not read yet

	loaded, release := holdFirstQuery(t, n, "comments")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := n.inter.CommentList(ctx, 0, video); err != nil {
			t.Error(err)
		}
	}()
	<-loaded // the load has read an empty list and waits to write it back
	if _, err := other.inter.AddComment(ctx, w.users[1], video, "after the load began"); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-done
	if l, err := other.inter.CommentList(ctx, 0, video); err != nil || len(l) != 1 {
		t.Fatalf("after the held load wrote back, a reader has %d comments (%v), want 1", len(l), err)
	}
}

// holdFirstQuery holds n's first query of table once it has read the
// database: loaded closes then, and the load goes on when release is
// closed.
func holdFirstQuery(t *testing.T, n *node, table string) (loaded, release chan struct{}) {
	t.Helper()
	h := &heldQuery{table: table, loaded: make(chan struct{}), release: make(chan struct{})}
	h.armed.Store(true)
	n.held.Store(h)
	return h.loaded, h.release
}

// heldQuery is the query holdFirstQuery holds. The callback that holds it
// is registered before the cache starts (newNode): registering one later
// would race with the cache's own queries in the background.
type heldQuery struct {
	table           string
	armed           atomic.Bool
	loaded, release chan struct{}
}

func holdQueries(t *testing.T, n *node) {
	must(t, n.db.Callback().Query().After("gorm:query").Register("test:barrier", func(db *gorm.DB) {
		if h := n.held.Load(); h != nil && db.Statement.Table == h.table && h.armed.CompareAndSwap(true, false) {
			close(h.loaded)
			<-h.release
		}
	}))
}
